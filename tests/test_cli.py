"""The understudy command, run as a subprocess, driven with real clients, stopped with signals."""

from __future__ import annotations

import contextlib
import json
import logging
import logging.handlers
import os
import selectors
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import requests

import understudy
from understudy import _cli

DATA = Path(__file__).parent / "data" / "wiremock"


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
    try:
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
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()


def test_http_with_mappings_admin_and_curl() -> None:
    with cli("http", "--mappings", str(DATA)) as running:
        info = running.info
        assert info["kind"] == "http"
        assert info["url"] == f"http://127.0.0.1:{info['port']}"
        assert requests.get(info["url"] + "/hello", timeout=5).text == "Hello"
        count = requests.post(
            info["url"] + "/__admin/requests/count", json={"url": "/hello"}, timeout=5
        )
        assert count.json() == {"count": 1}
        assert requests.get(info["url"] + "/nowhere", timeout=5).status_code == 404
        if shutil.which("curl") is not None:
            result = subprocess.run(
                ["curl", "-s", "-i", info["url"] + "/search?q=cats&page=1"],
                capture_output=True,
                text=True,
                timeout=10,
                check=True,
            )
            assert result.stdout.startswith("HTTP/1.1 200 OK")
            assert result.stdout.endswith('{"results": ["cat"]}')
    # what went wrong goes to stderr as it happens: here the near-miss report
    assert "understudy http: UnexpectedRequest: No expectation matched" in running.stderr
    assert "GET /nowhere" in running.stderr


def test_http_record_then_replay(tmp_path: Path) -> None:
    with understudy.HTTPServer() as upstream:
        upstream.expect("GET", "/thing").respond(200, json={"thing": 1})
        with cli("http", "--proxy-to", upstream.url, "--record", str(tmp_path)) as running:
            first = requests.get(running.info["url"] + "/thing", timeout=5)
    with cli("http", "--mappings", str(tmp_path), "--no-admin", stop=signal.SIGINT) as running:
        again = requests.get(running.info["url"] + "/thing", timeout=5)
        assert requests.get(running.info["url"] + "/__admin/mappings", timeout=5).status_code == 404
    assert (again.status_code, again.content) == (first.status_code, first.content)


def test_http_root_with_generated_fields_none(tmp_path: Path) -> None:
    (tmp_path / "feed.xml").write_bytes(b"<feed/>\n")
    (tmp_path / "feed.xml.headers").write_bytes(b"Content-Type: application/atom+xml\n")
    with cli(
        "http", "--root", str(tmp_path), "--no-admin", "--generated-fields", "none"
    ) as running:
        reply = requests.get(
            running.info["url"] + "/feed.xml", headers={"If-None-Match": '"v1"'}, timeout=5
        )
        assert reply.status_code == 200
        assert reply.content == b"<feed/>\n"
        assert reply.headers["Content-Type"] == "application/atom+xml"
        assert "ETag" not in reply.headers
        assert "Last-Modified" not in reply.headers
        assert "Date" in reply.headers


def test_smtp_prints_each_message() -> None:
    with cli("smtp", "--starttls") as running:
        message = EmailMessage()
        message["From"] = "app@example.com"
        message["To"] = "ops@example.com"
        message["Subject"] = "Disk full"
        message.set_content("The disk is full.\nPlease look.\n")
        with smtplib.SMTP(running.info["host"], running.info["port"], timeout=5) as client:
            client.starttls(context=ssl.create_default_context(cafile=running.info["ca_bundle"]))
            client.send_message(message)
        printed = running.read_json()
    assert printed["event"] == "message"
    assert printed["mail_from"] == "app@example.com"
    assert printed["rcpt_tos"] == ["ops@example.com"]
    assert ["Subject", "Disk full"] in printed["headers"]
    assert "Please look." in printed["text"]


def test_syslog_prints_each_message_and_tcp_echoes() -> None:
    with cli("syslog", "--transport", "udp") as running:
        handler = logging.handlers.SysLogHandler(
            address=(running.info["host"], running.info["port"])
        )
        try:
            handler.emit(logging.makeLogRecord({"msg": "disk full", "levelno": logging.ERROR}))
        finally:
            handler.close()
        assert "disk full" in running.read_until("disk full")
    with (
        cli("tcp", "--echo") as running,
        socket.create_connection((running.info["host"], running.info["port"]), timeout=5) as client,
    ):
        client.sendall(b"ping")
        assert client.recv(4) == b"ping"


def test_https_and_the_fake_pypi(tmp_path: Path) -> None:
    with cli("http", "--tls", "--mappings", str(DATA)) as running:
        info = running.info
        assert info["url"].startswith("https://")
        answer = requests.get(info["url"] + "/hello", verify=info["ca_bundle"], timeout=5)
        assert answer.text == "Hello"
        bundle = Path(info["ca_bundle"])
        assert bundle.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
    assert not bundle.exists()  # the test CA lives as long as the command
    with cli("pypi", "--dir", str(tmp_path), "--user", "ann:secret", "--tls") as running:
        info = running.info
        assert info["url"].startswith("https://")
        assert info["index_url"] == info["url"] + "/simple/"
        assert info["upload_url"] == info["url"] + "/legacy/"
        verify = info["ca_bundle"]
        assert requests.get(info["index_url"], verify=verify, timeout=5).status_code == 200
        refused = requests.post(info["upload_url"], auth=("ann", "wrong"), verify=verify, timeout=5)
        assert refused.status_code == 403


def test_busy_port_exits_2_with_a_message() -> None:
    with understudy.TCPServer() as busy:
        result = subprocess.run(
            [sys.executable, "-m", "understudy", "http", "--port", str(busy.port)],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    assert result.returncode == 2
    assert "already in use" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", ["http", "smtp", "syslog", "tcp", "pypi"])
def test_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        _cli.main([command, "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert f"usage: understudy {command}" in out
    assert "--port" in out
    assert "--json" in out


def test_wrong_options_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        _cli.main(["http", "--record", "somewhere"])
    assert exited.value.code == 2
    assert "give --proxy-to too" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        _cli.main(["http", "--generated-fields", "none"])
    assert exited.value.code == 2
    assert "--generated-fields applies to the files of --root" in capsys.readouterr().err


def test_bad_mappings_exit_2_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bad.json").write_text(json.dumps({"request": {"verb": "GET"}}))
    with pytest.raises(SystemExit) as exited:
        _cli.main(["http", "--mappings", str(tmp_path)])
    assert exited.value.code == 2
    assert "mapping.request.verb: unknown field" in capsys.readouterr().err


def test_format_message_summarises_the_body() -> None:
    lines = "\r\n".join(f"line {n}" for n in range(30))
    message = understudy.SMTPMessage(
        f"Subject: Long\r\n\r\n{lines}\r\n".encode(),
        mail_from="a@example.com",
        rcpt_tos=["b@example.com", "c@example.com"],
    )
    text = _cli.format_message(message)
    assert "rcpt to: b@example.com, c@example.com" in text
    assert "line 9\n... (20 more lines)" in text
