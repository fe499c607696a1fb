"""atheris harness over the pure parsers (run by ``_fuzz.py`` only when atheris is installed):
any exception other than the documented refusal is a crash."""

from __future__ import annotations

import importlib
import json
import sys
from typing import Any

from understudy._core.coding import CODINGS, negotiate
from understudy._core.directive_sources import parse_in_file, parse_sidecar
from understudy._core.directives import DirectiveError
from understudy._core.distance import levenshtein, string_distance
from understudy._core.logframes import LogFrameDecoder, decode_datagram
from understudy._core.paths import resolve_target
from understudy._core.syslog import parse_message
from understudy._core.syslog_framing import SyslogFramer
from understudy._core.tlsinfo import offered_version
from understudy._core.wiremock import MappingError, parse_mapping


def one_input(data: bytes) -> None:
    parse_message(data)
    framer = SyslogFramer(max_message_size=256)
    half = len(data) // 2
    for frame in [*framer.feed(data[:half]), *framer.feed(data[half:]), *framer.close()]:
        if isinstance(frame, bytes):
            parse_message(frame)
    decoder = LogFrameDecoder(max_frame_size=256)
    decoder.feed(data)
    decoder.close()
    decode_datagram(data, 256)
    resolve_target("/" + data.decode("latin-1"))
    negotiate(data.decode("latin-1"), CODINGS)
    offered_version(data)
    for parse in (parse_sidecar, parse_in_file):
        try:
            parse(data)
        except DirectiveError:
            pass
    text = data.decode("utf-8", "replace")
    half_text = len(text) // 2
    distance = string_distance(text[:half_text], text[half_text:])
    assert 0.0 <= distance <= 1.0, distance
    assert levenshtein(text[:half_text], text[half_text:]) <= max(half_text, len(text) - half_text)
    try:
        document = json.loads(data)
    except (ValueError, RecursionError):
        return
    try:
        parse_mapping(document)  # a mapping (NaN, 1e300 delays, no request...) or a refusal
    except (MappingError, RecursionError):
        pass


def main() -> None:
    fuzzer: Any = importlib.import_module("atheris")  # optional: only where it installs
    # Coverage feedback: instrument the parsers' bytecode (they were imported above), so that
    # libFuzzer mutates towards new branches instead of trying random bytes.
    fuzzer.instrument_all()
    fuzzer.Setup(sys.argv, one_input)
    fuzzer.Fuzz()


if __name__ == "__main__":
    main()
