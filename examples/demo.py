"""understudy's demo: real clients talking to understudy servers over real sockets.

Run it with ``make demo`` or ``python -m examples.demo``. Each section starts servers, points a
real client library at them, and prints what the server received and what the client got. The
exit status is 0 when every check of every section held, 1 otherwise.

To add a section (a new protocol, a new fake service): write ``examples/<name>.py`` with a
``TITLE`` and a ``run(report)`` function, and list it in :data:`SECTIONS`.
"""

from __future__ import annotations

import sys
import time
import traceback
from collections.abc import Callable
from typing import NamedTuple

from . import (
    feeds,
    http2_streams,
    http_asgi,
    http_handler,
    http_wsgi,
    http_wsgiref,
    https_faults,
    logging_handlers,
    pypi_roundtrip,
    websocket_feed,
)
from ._report import Report


class Section(NamedTuple):
    """One part of the demo: a title and the function that runs it against a report."""

    title: str
    run: Callable[[Report], None]


#: The demo, in order.
SECTIONS: list[Section] = [
    Section(http_wsgiref.TITLE, http_wsgiref.run),
    Section(http_wsgi.TITLE, http_wsgi.run),
    Section(http_asgi.TITLE, http_asgi.run),
    Section(http_handler.TITLE, http_handler.run),
    Section(https_faults.TITLE, https_faults.run),
    Section(feeds.TITLE, feeds.run),
    Section(logging_handlers.TITLE, logging_handlers.run),
    Section(pypi_roundtrip.TITLE, pypi_roundtrip.run),
    Section(http2_streams.TITLE, http2_streams.run),
    Section(websocket_feed.TITLE, websocket_feed.run),
]


def main(sections: list[Section] = SECTIONS) -> int:
    """Run every section, print the results; return the exit status (0: all checks held)."""
    report = Report()
    print("understudy demo: real clients talking to understudy servers over real sockets.")
    print("Each block shows the client's call (>>>), the request as the server recorded it")
    print("(server.wait_for_requests), and what the client got back.")
    started = time.perf_counter()
    failed: list[str] = []
    for number, section in enumerate(sections, start=1):
        report.heading(number, section.title)
        failures_before = len(report.failures)
        try:
            section.run(report)
        except Exception:  # noqa: BLE001 - a broken section is reported, the others still run
            report.line()
            report.line("FAILED: the section raised")
            for text in traceback.format_exc().splitlines():
                report.line(text, indent=2)
            failed.append(section.title)
            continue
        if len(report.failures) > failures_before:
            failed.append(section.title)
    elapsed = time.perf_counter() - started
    print()
    if failed:
        print(f"FAILED: {len(failed)} of {len(sections)} sections ({elapsed:.2f} s):")
        for title in failed:
            print(f"    {title}")
        return 1
    print(f"OK: {len(sections)} sections, {report.checks} checks held ({elapsed:.2f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
