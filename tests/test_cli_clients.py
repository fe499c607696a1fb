"""The understudy command driven as another language's test suite drives it: a subprocess whose
start line says where it listens, clients such as curl and node, its stdout read as JSON lines."""

from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from cli_tools import Running, cli, reaped


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
    with reaped(process):
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
    assert process.returncode == 0, err
    assert b"Traceback" not in err
    reports = [json.loads(line) for line in (first + out).splitlines()]
    assert [report["target"] for report in reports] == ["/big0", "/big1", "/big2"]
    assert {report["size"] for report in reports} == {1_000_000}


#: Runs the command with its stdout a pipe whose reader has already gone, and says on stderr
#: where the server listens once it has started (the start line cannot).
GONE_READER = """
import os, sys
read, write = os.pipe()
os.close(read)
os.dup2(write, 1)
os.close(write)
import understudy
start = understudy.Server.start
def started(self):
    start(self)
    sys.stderr.write(f"port {self.port}\\n")
    sys.stderr.flush()
    return self
understudy.Server.start = started
from understudy._cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("json_lines", [[], ["--json"]], ids=["text", "json"])
def test_a_reader_gone_before_the_start_line_leaves_the_command_serving(
    json_lines: list[str],
) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", GONE_READER, "http", "--no-admin", *json_lines],
        stderr=subprocess.PIPE,
    )
    with reaped(process):
        assert process.stderr is not None
        line = process.stderr.readline().decode()
        assert line.startswith("port "), line + process.stderr.read().decode()
        status = _post(int(line.split()[1]), "/after", b"still serving")
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    assert status.startswith(b"HTTP/1.1 404")
    assert process.returncode == 0, err
    assert b"Traceback" not in err


def test_a_stderr_nobody_reads_does_not_stall_the_server() -> None:
    # (a harness that pipes stderr and reads it only at the end: each request nothing answers
    # has its near-miss report printed there, more than a pipe holds)
    process = subprocess.Popen(
        [sys.executable, "-m", "understudy", "http", "--no-admin", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    with reaped(process):
        port = Running(process).read_json()["port"]
        for number in range(400):
            assert _post(port, f"/nothing/{number}", b"x" * 200).startswith(b"HTTP/1.1 404")
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err[-1000:]
    assert out.count(b'{"event": "request", ') == 400
    assert err.count(b"understudy http: UnexpectedRequest: ") == 400
    assert b"Traceback" not in err


def test_a_closed_stderr_leaves_requests_answered() -> None:
    command = [sys.executable, "-m", "understudy", "http", "--no-admin", "--json"]
    process = subprocess.Popen(
        ["sh", "-c", 'exec "$@" 2>&-', "sh", *command], stdout=subprocess.PIPE
    )
    with reaped(process):
        running = Running(process)
        port = running.read_json()["port"]
        assert _post(port, "/nothing", b"").startswith(b"HTTP/1.1 404")
        reported = running.read_json()
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    assert (reported["target"], reported["response"]["status_code"]) == ("/nothing", 404)
    assert process.returncode == 0


NODE_GET = """
const fs = require("fs"), https = require("https");
const [url, ca, cert] = process.argv.slice(1);
const pem = fs.readFileSync(cert);
https.get(url, {ca: fs.readFileSync(ca), cert: pem, key: pem}, (response) => {
  let body = "";
  response.on("data", (chunk) => (body += chunk));
  response.on("end", () => console.log(response.statusCode, body));
}).on("error", (error) => { console.error(error.message); process.exit(1); });
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node")
@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_node_and_curl_trust_the_printed_ca_and_present_the_client_cert() -> None:
    data = Path(__file__).parent / "data" / "wiremock"
    with cli("http", "--mappings", str(data), "--tls", "--tls-client-cert", "required") as running:
        info = running.info
        node = subprocess.run(
            [
                "node",
                "-e",
                NODE_GET,
                info["url"] + "/hello",
                info["ca_bundle"],
                info["client_cert"],
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert (node.returncode, node.stdout) == (0, "200 Hello\n"), node.stderr
        curl = subprocess.run(
            [
                *("curl", "-sS", "--cacert", info["ca_bundle"]),
                *("--cert", info["client_cert"], info["url"] + "/hello"),
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert (curl.returncode, curl.stdout) == (0, "Hello"), curl.stderr
        reported = [running.read_json() for _ in range(2)]
    assert [(r["target"], r["response"]["status_code"]) for r in reported] == [("/hello", 200)] * 2
    assert not Path(info["ca_bundle"]).exists()  # (removed when the command stops)
