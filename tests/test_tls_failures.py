"""Failed TLS handshakes: the client is sent the alert that says why (RFC 8446 §6.2), and every
TLS server records the failure (``tls_failures``, ``wait_for_tls_failures``), driven by real
clients: ssl sockets, requests, httpx, smtplib, curl and ``openssl s_client``."""

from __future__ import annotations

import asyncio
import shutil
import smtplib
import socket
import ssl
import subprocess
import warnings
from asyncio import sslproto
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

import understudy
import understudy.tls
from understudy import (
    TLS,
    HTTPServer,
    Response,
    Server,
    SMTPServer,
    SyslogServer,
    TCPServer,
    TLSFailure,
    WaitTimeout,
)
from understudy._core.tlsinfo import offered_version

REQUIRED = TLS(client_cert="required")
NO_CERTIFICATE = "PEER_DID_NOT_RETURN_A_CERTIFICATE"

#: Every kind of TLS server, each made with the given TLS settings.
TLS_SERVERS: dict[str, Callable[[TLS], Server]] = {
    "http": lambda tls: HTTPServer(tls=tls, response=Response(200)),
    "tcp": lambda tls: TCPServer(tls=tls),
    "syslog": lambda tls: SyslogServer(transport="tcp", tls=tls),
    "smtps": lambda tls: SMTPServer(tls=tls),
}


def tls_client(server: Server, context: ssl.SSLContext | None = None) -> ssl.SSLSocket:
    """A TLS connection to ``server`` whose handshake is done (the client's side of it)."""
    context = context or understudy.tls.client_context()
    raw = socket.create_connection(server.address, timeout=5)
    return context.wrap_socket(raw, server_hostname="localhost")


def verdict(client: ssl.SSLSocket) -> str:
    """What a TLS 1.3 client reads after its handshake: the server's alert, or EOF."""
    with client:
        try:
            data = client.recv(100)
        except ssl.SSLError as error:
            return str(error)
        return f"read {data!r}"


@contextmanager
def old_protocol_context() -> Iterator[ssl.SSLContext]:
    """A client context that offers only TLS 1.0 and 1.1 (OpenSSL 3 needs security level 0)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # (the versions are deprecated)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        try:
            context.minimum_version = ssl.TLSVersion.TLSv1
            context.maximum_version = ssl.TLSVersion.TLSv1_1
            context.set_ciphers("DEFAULT:@SECLEVEL=0")
        except (ValueError, ssl.SSLError) as error:
            pytest.skip(f"this OpenSSL cannot offer TLS 1.0/1.1: {error}")
        yield context


# -- mutual TLS without a client certificate ------------------------------------------------


def test_mtls_without_a_client_certificate_sends_certificate_required_and_is_recorded() -> None:
    with HTTPServer(tls=REQUIRED, response=Response(200)) as server:
        client = tls_client(server)
        peer = client.getsockname()
        seen = verdict(client)
        [failure] = server.wait_for_tls_failures(1)
        server.check()  # (a failed handshake is not a handler error)
    # Before: the client read EOF ("read b''") and nothing was recorded.
    assert "TLSV13_ALERT_CERTIFICATE_REQUIRED" in seen
    assert failure.peer == (peer[0], peer[1])
    assert failure.reason == NO_CERTIFICATE
    assert "client_cert='required'" in failure.description
    assert failure.offered_version == "TLSv1.3"
    assert failure.failed_at > 0
    assert server.requests == []


def test_mtls_over_tls_1_2_without_a_client_certificate_sends_handshake_failure() -> None:
    settings = TLS(client_cert="required", maximum_version=ssl.TLSVersion.TLSv1_2)
    with HTTPServer(tls=settings) as server:
        # TLS 1.2 has no certificate_required: the handshake itself fails, with an alert.
        with pytest.raises(ssl.SSLError, match="HANDSHAKE_FAILURE"):
            tls_client(server)
        [failure] = server.wait_for_tls_failures(1)
    assert failure.reason == NO_CERTIFICATE


def test_requests_and_httpx_without_a_client_certificate_get_the_alert() -> None:
    with HTTPServer(tls=REQUIRED, response=Response(200)) as server:
        with pytest.raises(requests.exceptions.SSLError, match="CERTIFICATE_REQUIRED"):
            requests.get(server.url, verify=understudy.tls.ca_bundle(), timeout=5)
        with pytest.raises(httpx.TransportError, match="CERTIFICATE_REQUIRED"):
            httpx.get(server.url, verify=understudy.tls.client_context(), timeout=5)
        failures = server.wait_for_tls_failures(2)
    assert [f.reason for f in failures] == [NO_CERTIFICATE, NO_CERTIFICATE]


@pytest.mark.parametrize("kind", list(TLS_SERVERS))
def test_every_tls_server_records_a_failed_handshake(kind: str) -> None:
    with TLS_SERVERS[kind](REQUIRED) as server:
        assert "CERTIFICATE_REQUIRED" in verdict(tls_client(server))
        [failure] = server.wait_for_tls_failures(1)
        server.check()
    assert failure.reason == NO_CERTIFICATE


def test_starttls_without_a_client_certificate_is_recorded_and_ends_the_session_quietly() -> None:
    with SMTPServer(starttls=REQUIRED) as server:
        client = smtplib.SMTP(server.host, server.port, timeout=5)
        try:
            client.starttls(context=understudy.tls.client_context())
            with pytest.raises(smtplib.SMTPServerDisconnected, match="CERTIFICATE_REQUIRED"):
                client.noop()
        finally:
            client.close()
        [failure] = server.wait_for_tls_failures(1)
        server.check()  # before: TLSSetupException
    assert failure.reason == NO_CERTIFICATE


def test_a_client_certificate_makes_no_failure() -> None:
    cert = understudy.tls.issue_client_cert("alice")
    with HTTPServer(tls=REQUIRED, response=Response(200)) as server:
        context = understudy.tls.client_context(client_cert=cert)
        response = httpx.get(server.url, verify=context, timeout=5)
        assert response.status_code == 200
        server.wait_for_requests(1)
        assert server.tls_failures == []


# -- protocol versions ----------------------------------------------------------------------


def test_a_tls_1_1_client_hello_gets_the_protocol_version_alert() -> None:
    with HTTPServer(tls=True) as server, old_protocol_context() as context:
        # Before: "UNEXPECTED_EOF_WHILE_READING" (closed without an alert).
        with pytest.raises(ssl.SSLError, match="ALERT_PROTOCOL_VERSION"):
            tls_client(server, context)
        [failure] = server.wait_for_tls_failures(1)
    assert failure.reason == "UNSUPPORTED_PROTOCOL"
    assert failure.offered_version == "TLSv1.1"


def test_a_version_below_the_configured_minimum_gets_the_protocol_version_alert() -> None:
    with HTTPServer(tls=TLS(minimum_version=ssl.TLSVersion.TLSv1_3)) as server:
        context = understudy.tls.client_context()
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        with pytest.raises(ssl.SSLError, match="ALERT_PROTOCOL_VERSION"):
            tls_client(server, context)
        [failure] = server.wait_for_tls_failures(1)
    assert (failure.reason, failure.offered_version) == ("UNSUPPORTED_PROTOCOL", "TLSv1.2")


OPENSSL = shutil.which("openssl")


@pytest.mark.skipif(OPENSSL is None, reason="needs the openssl command")
@pytest.mark.parametrize(
    ("settings", "flags", "expected"),
    [
        (REQUIRED, ["-tls1_3"], "alert certificate required"),
        (TLS(), ["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"], "alert protocol version"),
    ],
    ids=["no-client-certificate", "tls-1.1"],
)
def test_openssl_s_client_reads_the_alert(settings: TLS, flags: list[str], expected: str) -> None:
    assert OPENSSL is not None
    with HTTPServer(tls=settings) as server:
        command = [OPENSSL, "s_client", "-connect", f"127.0.0.1:{server.port}", "-ign_eof", *flags]
        command += ["-CAfile", understudy.tls.ca_bundle(), "-servername", "localhost"]
        done = subprocess.run(command, input=b"", capture_output=True, timeout=10, check=False)
        server.wait_for_tls_failures(1)
    output = (done.stdout + done.stderr).decode("utf-8", "replace")
    assert expected in output, output
    assert "unexpected eof" not in output


# -- other failures -------------------------------------------------------------------------


def test_plain_text_to_a_tls_port_is_recorded() -> None:
    with HTTPServer(tls=True) as server:
        with socket.create_connection(server.address, timeout=5) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            sock.recv(100)  # (the alert, then EOF)
        [failure] = server.wait_for_tls_failures(1)
    assert failure.reason in ("HTTP_REQUEST", "WRONG_VERSION_NUMBER")
    assert failure.offered_version is None


def test_a_client_that_closes_mid_handshake_is_recorded() -> None:
    with TCPServer(tls=True) as server:
        with socket.create_connection(server.address, timeout=5) as sock:
            sock.shutdown(socket.SHUT_WR)
            assert sock.recv(100) == b""
        [failure] = server.wait_for_tls_failures(1)
    assert failure.reason == "CLOSED_BY_CLIENT"
    assert "having sent nothing" in failure.description


def test_a_client_too_slow_for_the_handshake_timeout_is_recorded() -> None:
    with TCPServer(tls=TLS(handshake_timeout=0.1)) as server:
        with socket.create_connection(server.address, timeout=5) as sock:
            assert sock.recv(100) == b""  # the server gave up
        [failure] = server.wait_for_tls_failures(1)
    assert failure.reason == "HANDSHAKE_TIMEOUT"
    assert "0.1 s" in failure.description


def test_a_handshake_cut_short_by_stop_is_not_a_failure() -> None:
    server = TCPServer(tls=True).start()
    with socket.create_connection(server.address, timeout=5) as sock:
        sock.sendall(b"\x16\x03\x01")  # the start of a ClientHello, never finished
        server.stop()
        try:
            assert sock.recv(100) == b""
        except ConnectionResetError:
            pass  # (aborted: also the end)
    assert server.tls_failures == []


def test_a_plain_server_has_no_failures_and_a_wait_says_what_it_waited_for() -> None:
    with TCPServer() as server:
        assert server.tls_failures == []
        with pytest.raises(WaitTimeout, match="failed TLS handshake"):
            server.wait_for_tls_failures(1, timeout=0.05)


@pytest.mark.asyncio
async def test_wait_for_tls_failures_async() -> None:
    async with HTTPServer(tls=REQUIRED) as server:
        loop = asyncio.get_running_loop()
        seen = await loop.run_in_executor(None, lambda: verdict(tls_client(server)))
        [failure] = await server.wait_for_tls_failures_async(
            1, match=lambda f: f.reason == NO_CERTIFICATE
        )
    assert "CERTIFICATE_REQUIRED" in seen
    assert isinstance(failure, TLSFailure)


def test_asyncio_still_has_what_the_tls_protocol_relies_on() -> None:
    # understudy._handshake overrides or calls these private members of asyncio's protocol.
    for name in ("_do_handshake", "_process_outgoing", "_on_handshake_complete"):
        assert callable(getattr(sslproto.SSLProtocol, name))
    assert isinstance(sslproto.SSLAgainErrors, tuple)


# -- the ClientHello's version (pure) -------------------------------------------------------


def client_hello(context: ssl.SSLContext) -> bytes:
    """The first bytes a real client sends with ``context``."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    sslobj = context.wrap_bio(incoming, outgoing, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        sslobj.do_handshake()
    return outgoing.read()


def test_offered_version_reads_supported_versions_and_legacy_version() -> None:
    modern = understudy.tls.client_context()
    capped = understudy.tls.client_context()
    capped.maximum_version = ssl.TLSVersion.TLSv1_2
    assert offered_version(client_hello(modern)) == "TLSv1.3"
    assert offered_version(client_hello(capped)) == "TLSv1.2"
    with old_protocol_context() as old:
        assert offered_version(client_hello(old)) == "TLSv1.1"


def test_offered_version_of_part_of_a_client_hello_is_none() -> None:
    hello = client_hello(understudy.tls.client_context())
    assert [offered_version(hello[:cut]) for cut in range(len(hello) - 1)] == [None] * (
        len(hello) - 1
    )
    assert offered_version(b"GET / HTTP/1.1\r\n\r\n") is None
    assert offered_version(hello + b"trailing") == "TLSv1.3"


@given(st.binary(max_size=300), st.binary(max_size=60))
def test_offered_version_of_any_bytes_never_raises(tail: bytes, head: bytes) -> None:
    for data in (tail, b"\x16\x03\x01" + head[:2] + b"\x01" + tail):
        assert offered_version(data) in (None, "SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
