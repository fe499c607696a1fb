"""The understudy command, run as a subprocess, driven with real clients, stopped with signals."""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
import requests

import understudy
from cli_tools import cli, reaped
from understudy import _cli
from understudy._cli._follow import Follower

DATA = Path(__file__).parent / "data" / "wiremock"


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


def test_a_request_to_a_command_serving_nothing_is_told_the_options_that_serve() -> None:
    """The near-miss report's advice is in the command's terms, not ``server.expect(...)``."""
    with cli("http") as running:
        assert requests.get(running.info["url"] + "/hello", timeout=5).status_code == 404
    assert "GET /hello" in running.stderr
    assert (
        "Nothing is served: start the command with --root DIR, --mappings DIR or --proxy-to "
        "URL, or add a stub mapping with POST /__admin/mappings." in running.stderr
    )
    assert "server.expect" not in running.stderr


def test_http_versions_offers_http2_beside_http11() -> None:
    with cli("http", "--mappings", str(DATA), "--http-versions", "1.1,2") as running:
        url = running.info["url"] + "/hello"
        with httpx.Client(http1=False, http2=True, timeout=5) as client:
            two = client.get(url)
        one = httpx.get(url, timeout=5)
    assert (two.http_version, two.text) == ("HTTP/2", "Hello")
    assert (one.http_version, one.text) == ("HTTP/1.1", "Hello")


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


# -- issue 19: the admin API on a network, a token -----------------------------------------

#: Runs the command with bind() refused, so a test can tell whether it got as far as binding
#: without ever listening on anything: exit 17 and "bind reached" means it did.
GUARDED = """
import socket, sys
def refuse(self, address):
    sys.stderr.write(f"bind reached: {address!r}\\n")
    sys.exit(17)
socket.socket.bind = refuse
from understudy._cli import main
sys.exit(main(sys.argv[1:]))
"""


def guarded(*args: str) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if name != "UNDERSTUDY_ADMIN_TOKEN"}
    return subprocess.run(
        [sys.executable, "-c", GUARDED, *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env=env,
    )


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.1", "example.invalid"])
def test_admin_on_a_non_loopback_host_is_refused_before_binding(host: str) -> None:
    result = guarded("http", "--host", host)
    assert result.returncode == 2, result.stderr
    assert "bind reached" not in result.stderr
    assert result.stderr.startswith("usage: understudy http")
    assert f"--host {host} is not a loopback address" in result.stderr
    for flag in ("--admin-token", "--no-admin", "--admin-on-network"):
        assert flag in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "opt_in", [["--admin-on-network"], ["--admin-token", "s3cret"], ["--no-admin"]]
)
def test_an_explicit_flag_lets_a_non_loopback_host_through(opt_in: list[str]) -> None:
    result = guarded("http", "--host", "0.0.0.0", *opt_in)  # bind() refused: nothing listens
    assert result.returncode == 17, result.stderr
    assert "bind reached: ('0.0.0.0', 0)" in result.stderr


def test_the_admin_token_comes_from_the_environment_too() -> None:
    env = {**os.environ, "UNDERSTUDY_ADMIN_TOKEN": "from-env"}
    result = subprocess.run(
        [sys.executable, "-c", GUARDED, "http", "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env=env,
    )
    assert result.returncode == 17, result.stderr


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("localhost", True),
        ("LOCALHOST", True),
        ("::ffff:127.0.0.1", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.1", False),
        ("example.com", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert _cli.is_loopback(host) is loopback


def test_the_admin_token_on_the_command_line() -> None:
    with cli("http", "--admin-token", "s3cret") as running:
        info = running.info
        assert info["admin_url"] == info["url"] + "/__admin"
        assert info["admin_token_required"] is True
        assert "s3cret" not in json.dumps(info)
        refused = requests.get(info["admin_url"] + "/mappings", timeout=5)
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"].startswith("Bearer")
        # the refused call is reported as a request (an admin call that counts is not)
        reported = running.read_json()
        assert (reported["event"], reported["target"]) == ("request", "/__admin/mappings")
        bearer = {"Authorization": "Bearer s3cret"}
        allowed = requests.get(info["admin_url"] + "/mappings", headers=bearer, timeout=5)
        assert allowed.json()["meta"] == {"total": 0}
    assert running.rest == ""


def test_admin_token_with_no_admin_is_a_mistake(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        _cli.main(["http", "--no-admin", "--admin-token", "s3cret"])
    assert exited.value.code == 2
    assert "--admin-token guards the admin API" in capsys.readouterr().err


# -- issue 19: errors in the command's words -------------------------------------------------


def test_a_host_that_is_not_this_machines_exits_2_in_one_line() -> None:
    # (10.255.255.1 is no address of this machine: bind() fails locally, nothing is sent)
    result = subprocess.run(
        [sys.executable, "-m", "understudy", "tcp", "--host", "10.255.255.1"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    usage, message = result.stderr.strip().split("\nunderstudy tcp: error: ")
    assert usage.startswith("usage: understudy tcp")
    assert message.startswith("cannot listen on --host 10.255.255.1: ")
    assert "give an address of this machine" in message
    assert "\n" not in message


def test_a_name_that_does_not_resolve_is_worded_for_the_flag() -> None:
    # (no lookup here: the error getaddrinfo raises for such a name, worded)
    args = _cli.build_parser().parse_args(["smtp", "--host", "nosuchhost.invalid"])
    error = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    assert _cli.cannot_listen(args, error) == (
        "cannot listen on --host nosuchhost.invalid: Name or service not known; give an "
        "address of this machine, such as 127.0.0.1 (the default), ::1 or localhost"
    )


def test_busy_port_names_the_flag_and_shows_the_subcommands_usage() -> None:
    with understudy.TCPServer() as busy:
        result = subprocess.run(
            [sys.executable, "-m", "understudy", "smtp", "--port", str(busy.port)],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    assert result.returncode == 2
    assert result.stderr.startswith("usage: understudy smtp")
    assert "pass --port 0 to let the kernel choose a free port" in result.stderr
    assert "port=0" not in result.stderr


@pytest.mark.parametrize(
    ("argv", "expected", "python"),
    [
        (["http", "--root", "/nonexistent/dir"], "give --root the path of a directory", "()"),
        (["http", "--proxy-to", "nowhere"], "--proxy-to must be an upstream URL", "proxy_to"),
        (
            ["smtp", "--tls", "--starttls"],
            "give --tls (implicit TLS, SMTPS) or --starttls (RFC 3207), not both",
            "SMTPServer",
        ),
        (["syslog", "--tls"], "--tls needs --transport tcp", "transport="),
        (["pypi", "--dir", "/nonexistent/dir"], "--dir must be an existing directory", "="),
        (["http", "--tls-certificate", "expired"], "give --tls too", "TLS("),
        (["smtp", "--auth-required"], "give --auth USER:PASSWORD too", "auth="),
        (["smtp", "--auth", "nocolon"], "--auth takes NAME:PASSWORD", "auth="),
        (["http", "--index", "index.html"], "--index applies to the files of --root", "="),
        (["tcp", "--port", "70000"], "give --port 0 for a free one", "port="),
        (["http", "--http-versions", "3"], "1.1,2 for both, 2 for HTTP/2 only", "versions="),
        (["http", "--http-versions", "1.1,"], "not '1.1,'", "versions="),
    ],
)
def test_errors_name_the_flag_and_show_the_subcommands_usage(
    argv: list[str], expected: str, python: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        _cli.main(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"usage: understudy {argv[0]}")
    assert expected in err
    assert python not in err.split(" error: ", 1)[1]


@pytest.mark.parametrize(
    ("message", "worded"),
    [
        ("pass port=0 to let the kernel choose", "pass --port 0 to let the kernel choose"),
        ("give SMTPServer tls= or starttls=, not both", "give --tls or --starttls, not both"),
        ("tls= needs transport='tcp'", "--tls needs --transport tcp"),
        ("root '/x' does not exist; give serve_directory() the path", None),
        ("proxy_to must be a URL", "--proxy-to must be a URL"),
        ("the root of the problem", "the root of the problem"),
    ],
)
def test_cli_wording(message: str, worded: str | None) -> None:
    expected = worded or "--root '/x' does not exist; give --root the path"
    assert _cli.cli_wording(message) == expected


# -- issue 19: what arrives, reported ---------------------------------------------------------


def test_http_reports_each_request_as_json_and_as_text(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.html").write_text("<h1>docs</h1>")
    with cli("http", "--root", str(tmp_path), "--index", "index.html") as running:
        info = running.info
        assert info["admin_url"] == info["url"] + "/__admin"
        assert info["admin_token_required"] is False
        requests.post(info["url"] + "/docs/", data=b"hi", timeout=5)
        assert requests.get(info["url"] + "/docs/", timeout=5).text == "<h1>docs</h1>"
        first, second = running.read_json(), running.read_json()
        assert (first["event"], first["method"], first["target"]) == ("request", "POST", "/docs/")
        assert (first["body"], first["size"]) == ("hi", 2)
        assert ["Content-Length", "2"] in first["headers"]
        assert second["method"] == "GET"
    with cli("http", "--no-admin", json_lines=False) as running:
        requests.get(running.info["url"] + "/nothing", timeout=5)
        line = running.read_until("/nothing")
        assert " GET /nothing (0 bytes)" in line
        assert line.startswith("127.0.0.1:")


def test_smtp_auth_and_smtputf8() -> None:
    with cli("smtp", "--auth", "ann:secret", "--auth-required", "--smtputf8") as running:
        host, port = running.info["host"], running.info["port"]
        with smtplib.SMTP(host, port, timeout=5) as client:
            client.ehlo()
            assert client.has_extn("smtputf8")
            with pytest.raises(smtplib.SMTPSenderRefused):
                client.sendmail("a@example.com", ["b@example.com"], b"Subject: x\r\n\r\nx\r\n")
        with smtplib.SMTP(host, port, timeout=5) as client:
            client.login("ann", "secret")
            client.sendmail(
                "zoë@example.com",
                ["ops@example.com"],
                "Subject: café\r\n\r\nbonjour\r\n".encode(),
                mail_options=["SMTPUTF8"],
            )
        message = running.read_json()
    assert (message["login"], message["smtputf8"]) == ("ann", True)
    assert message["mail_from"] == "zoë@example.com"
    assert ["Subject", "café"] in message["headers"]


def test_syslog_names_its_transport_facility_and_severity() -> None:
    with cli("syslog", json_lines=False) as running:
        assert running.info["url"].startswith("syslog+udp://127.0.0.1:")
        host, port = running.info["url"].removeprefix("syslog+udp://").rsplit(":", 1)
        handler = logging.handlers.SysLogHandler(
            address=(host, int(port)), facility=logging.handlers.SysLogHandler.LOG_LOCAL3
        )
        try:
            record = {"msg": "disk full", "levelno": logging.ERROR, "levelname": "ERROR"}
            handler.emit(logging.makeLogRecord(record))
        finally:
            handler.close()
        assert running.read_until("disk full").startswith("<local3.err> ")
    with cli("syslog", "--transport", "tcp") as running:
        assert running.info["url"].startswith("syslog+tcp://")
        handler = logging.handlers.SysLogHandler(
            address=(running.info["host"], running.info["port"]), socktype=socket.SOCK_STREAM
        )
        try:
            record = {"msg": "warm", "levelno": logging.WARNING, "levelname": "WARNING"}
            handler.emit(logging.makeLogRecord(record))
        finally:
            handler.close()
        message = running.read_json()
        assert (message["facility"], message["severity"]) == ("user", "warning")
        assert message["msg"] == "warm"


def test_syslog_over_tls() -> None:
    with cli("syslog", "--transport", "tcp", "--tls") as running:
        info = running.info
        assert info["url"] == f"syslog+tls://127.0.0.1:{info['port']}"
        context = ssl.create_default_context(cafile=info["ca_bundle"])
        line = b"<165>1 2024-01-02T03:04:05Z web app 42 ID1 - over TLS"
        with (
            socket.create_connection((info["host"], info["port"]), timeout=5) as raw,
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
        ):
            tls.sendall(b"%d %s" % (len(line), line))  # octet counting (RFC 5425 §4.3)
            message = running.read_json()
    assert (message["facility"], message["severity"]) == ("local4", "notice")
    assert (message["app_name"], message["msg"]) == ("app", "over TLS")


def test_tcp_reports_each_connection_when_it_closes() -> None:
    with cli("tcp", "--echo") as running:
        with socket.create_connection((running.info["host"], running.info["port"]), 5) as client:
            client.sendall(b"ping")
            assert client.recv(4) == b"ping"
        report = running.read_json()
    assert (report["event"], report["data"], report["size"]) == ("connection", "ping", 4)
    assert report["closed_at"] >= report["opened_at"]


def test_tls_options_client_certificates_and_versions() -> None:
    with cli(
        "http", "--tls", "--tls-client-cert", "required", "--tls-max-version", "1.2"
    ) as running:
        info = running.info
        answer = requests.get(
            info["url"] + "/", verify=info["ca_bundle"], cert=info["client_cert"], timeout=5
        )
        assert answer.status_code == 404  # answered: the handshake took the certificate
        context = ssl.create_default_context(cafile=info["ca_bundle"])
        context.load_cert_chain(info["client_cert"])
        with (
            socket.create_connection((info["host"], info["port"]), timeout=5) as raw,
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
        ):
            assert tls.version() == "TLSv1.2"


def test_pypi_reports_uploads_and_downloads(tiny_dists: list[Path]) -> None:
    from pypi_tools import twine_upload  # noqa: PLC0415 - PyPI tests only

    wheel = tiny_dists[0]
    with cli("pypi", "--user", "ann:secret") as running:
        uploaded = twine_upload(
            running.info["upload_url"], [wheel], username="ann", password="secret"
        )
        assert uploaded.returncode == 0, uploaded.stdout + uploaded.stderr
        upload = running.read_json()
        assert (upload["event"], upload["filename"]) == ("upload", wheel.name)
        assert (upload["uploader"], upload["filetype"]) == ("ann", "bdist_wheel")
        got = requests.get(f"{running.info['url']}/packages/{wheel.name}", timeout=5)
        assert got.content == wheel.read_bytes()
        download = running.read_json()
        assert (download["event"], download["filename"]) == ("download", wheel.name)


# -- issue 21: a request is reported once answered, with its response ----------------------------


def test_http_reports_each_request_with_the_response_it_got() -> None:
    with cli("http", "--no-admin") as running:
        got = requests.get(running.info["url"] + "/nothing", timeout=5)
        reported = running.read_json()
        assert (reported["event"], reported["target"]) == ("request", "/nothing")
        response = reported["response"]
        assert (response["status_code"], response["reason"]) == (got.status_code, got.reason)
        assert (response["answered_by"], response["fault"]) == ("unmatched", None)
        assert ["Content-Length", got.headers["Content-Length"]] in response["headers"]
    with cli("http", "--no-admin", json_lines=False) as running:
        requests.get(running.info["url"] + "/missing", timeout=5)
        line = running.read_until("/missing").rstrip()
        assert line.endswith(" GET /missing (0 bytes) -> 404 Not Found")


def test_a_request_is_reported_when_answered_not_when_it_arrives() -> None:
    args = _cli.build_parser().parse_args(["http", "--no-admin"])
    running = args.make(args)
    server = running.server
    assert isinstance(server, understudy.HTTPServer)
    follower = Follower(running.sources)
    follower.start()
    answer = threading.Event()

    def late(request: understudy.Request) -> understudy.Response:
        answer.wait(10)
        return understudy.Response(201, body=b"late")

    server.expect("GET", "/late").respond_with(late)
    with server, ThreadPoolExecutor(1) as pool:
        got = pool.submit(requests.get, server.url + "/late", timeout=10)
        server.wait_for_requests(1)  # (journaled: arrived, not answered)
        assert follower.take(0) == []
        answer.set()
        assert got.result().status_code == 201  # (the journal has the answer before the client)
        ((event, text),) = follower.take(5)
    follower.stop()
    assert (event["target"], event["response"]["status_code"]) == ("/late", 201)
    assert event["response"]["answered_by"] == "expectation"
    assert text.endswith(" GET /late (0 bytes) -> 201 Created")
    assert follower.rest() == []


def test_a_request_never_answered_is_reported_at_the_stop_with_no_response() -> None:
    args = _cli.build_parser().parse_args(["http", "--no-admin"])
    running = args.make(args)
    server = running.server
    assert isinstance(server, understudy.HTTPServer)
    follower = Follower(running.sources)
    follower.start()
    server.expect("GET", "/slow").respond(200, delay=60.0)
    with server, socket.create_connection((server.host, server.port), timeout=10) as client:
        client.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        server.wait_for_requests(1)  # (journaled; its answer is a minute away)
        server.stop()  # (cuts the delayed answer off: the request is never answered)
        assert client.recv(1024) == b""
    follower.stop()
    ((event, text),) = follower.rest()
    assert (event["target"], event["response"]) == ("/slow", None)
    assert text.endswith(" GET /slow (0 bytes) -> (no response)")


def test_a_reader_that_goes_away_leaves_the_command_serving() -> None:
    # (a harness that reads the start line and closes its end of the pipe, or `| head -1`)
    process = subprocess.Popen(
        [sys.executable, "-m", "understudy", "http", "--mappings", str(DATA), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    with reaped(process):
        assert process.stdout is not None
        url = json.loads(process.stdout.readline())["url"]
        process.stdout.close()
        for _ in range(3):  # (each report goes to a pipe nobody reads)
            assert httpx.get(url + "/hello", timeout=5).status_code == 200
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=10)
    assert process.returncode == 0, err
    assert b"Traceback" not in err
