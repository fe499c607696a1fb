"""The understudy command driven as another language's test suite drives it: a subprocess whose
start line says where it listens, clients such as curl and node, its stdout read as JSON lines."""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import subprocess
import sys

import pytest

from cli_tools import Running


def _post(port: int, target: str, body: bytes) -> bytes:
    """POST ``body`` to ``target`` over a connection of its own; the status line answered."""
    head = f"POST {target} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
        client.sendall(head.encode() + b"Connection: close\r\n\r\n" + body)
        return client.makefile("rb").readline()


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_while_a_report_is_written_leaves_every_line_whole(stop: signal.Signals) -> None:
    # (a harness that reads stdout only once it has stopped the command: a report larger than
    # the pipe holds is being written when the signal comes)
    process = subprocess.Popen(
        [sys.executable, "-m", "understudy", "http", "--no-admin", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        running = Running(process)
        port = running.read_json()["port"]
        for number in range(3):
            assert _post(port, f"/big{number}", b"x" * 1_000_000).startswith(b"HTTP/1.1 404")
        assert process.stdout is not None
        with selectors.DefaultSelector() as selector:  # the first report has begun
            selector.register(process.stdout, selectors.EVENT_READ)
            assert selector.select(10)
        first = running.rest_of_buffer() + os.read(process.stdout.fileno(), 100)
        process.send_signal(stop)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()
    assert process.returncode == 0, err
    assert b"Traceback" not in err
    reports = [json.loads(line) for line in (first + out).splitlines()]
    assert [report["target"] for report in reports] == ["/big0", "/big1", "/big2"]
    assert {report["size"] for report in reports} == {1_000_000}
