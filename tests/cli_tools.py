"""Running the understudy command as another language's test suite would: a subprocess whose
first line says where it listens, read without sleeping, then stopped with a signal."""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

__all__ = ["Running", "cli"]


class Running:
    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process
        self.info: dict[str, Any] = {}
        self.stderr = ""
        #: What stdout held after the last read, once the command stopped.
        self.rest = ""
        self._buffer = b""

    def read_until(self, text: str, timeout: float = 10.0) -> str:
        """Read stdout until a line holds ``text``; the lines read (the rest stays buffered)."""
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        needle = text.encode()
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while True:
                at = self._buffer.find(needle)
                if at >= 0:
                    end = self._buffer.find(b"\n", at)
                    end = len(self._buffer) if end < 0 else end + 1
                    lines, self._buffer = self._buffer[:end], self._buffer[end:]
                    return lines.decode()
                if not selector.select(timeout):
                    raise TimeoutError(f"waited {timeout} s for {text!r}; read {self._buffer!r}")
                data = os.read(fd, 65536)
                if not data:
                    raise AssertionError(f"the command ended before {text!r}: {self._buffer!r}")
                self._buffer += data

    def rest_of_buffer(self) -> bytes:
        """What was read from stdout past the last line returned (then forgotten here)."""
        rest, self._buffer = self._buffer, b""
        return rest

    def read_json(self, timeout: float = 10.0) -> dict[str, Any]:
        """The next line of stdout, which must be one JSON object."""
        line = self.read_until("\n", timeout)
        value = json.loads(line)
        assert isinstance(value, dict), line
        return value


@contextlib.contextmanager
def cli(
    *args: str, stop: signal.Signals = signal.SIGTERM, json_lines: bool = True
) -> Iterator[Running]:
    """Start ``python -m understudy ARGS --json``; read its start line; stop it with ``stop``.

    With ``json_lines`` false: no ``--json``; ``info`` holds the start line's ``url`` only.
    """
    process = subprocess.Popen(
        [sys.executable, "-m", "understudy", *args, *(["--json"] if json_lines else [])],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    with reaped(process):
        running = Running(process)
        if json_lines:
            running.info = running.read_json()
            assert running.info["event"] == "listening"
        else:
            line = running.read_until("listening on")
            running.info = {"url": line.split("listening on ")[1].split()[0], "line": line}
        yield running
        process.send_signal(stop)
        out, err = process.communicate(timeout=10)
        running.stderr = err.decode()
        running.rest = (running._buffer + out).decode()
        if json_lines:  # with --json, every line on stdout is one JSON object
            for line in running.rest.splitlines():
                assert isinstance(json.loads(line), dict), line
        assert process.returncode == 0, running.stderr
        assert "Traceback" not in running.stderr


@contextlib.contextmanager
def reaped(process: subprocess.Popen[bytes]) -> Iterator[subprocess.Popen[bytes]]:
    """``process`` for the block; killed if it still runs when the block ends, then waited for
    (a failed assertion leaves no command running)."""
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()
