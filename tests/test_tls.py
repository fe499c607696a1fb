"""TLS from the test CA: HTTPS, SMTPS and STARTTLS, TLS over TCP and syslog, client certificates,
and deliberately bad certificates, each driven by real clients."""

from __future__ import annotations

import logging
import logging.handlers
import multiprocessing
import os
import smtplib
import socket
import ssl
import urllib.error
import urllib.request
import warnings
from collections.abc import Callable
from typing import Any

import aiohttp
import httpx
import pytest
import requests
import trustme
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

import understudy
import understudy.tls
from understudy import (
    TLS,
    ConfigurationError,
    HTTPServer,
    Request,
    Response,
    SMTPServer,
    SyslogServer,
    TCPServer,
    TLSInfo,
    UDPServer,
    UnixDatagramServer,
)
from understudy._core.syslog_framing import frame_octet_counted
from understudy._tls import format_subject, server_context
from versions import Version

pytest_plugins = ["pytester"]

OK = Response(200, body="secret\n")
BAD_CERTIFICATES = ["expired", "not-yet-valid", "wrong-host", "self-signed", "untrusted-ca"]
#: What OpenSSL says about each bad certificate (``ssl.SSLCertVerificationError.verify_message``).
VERIFY_MESSAGES = {
    "expired": "certificate has expired",
    "not-yet-valid": "certificate is not yet valid",
    "wrong-host": "IP address mismatch",
    "self-signed": "self-signed certificate",
    "untrusted-ca": "unable to get local issuer certificate",
}


def has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


# -- settings ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "said"),
    [
        ({"certificate": "bogus"}, "'expired'"),
        ({"client_cert": True}, "'required'"),
        ({"minimum_version": "TLSv1.2"}, "ssl.TLSVersion"),
        (
            {
                "minimum_version": ssl.TLSVersion.TLSv1_3,
                "maximum_version": ssl.TLSVersion.TLSv1_2,
            },
            "above maximum_version",
        ),
        ({"handshake_timeout": 0}, "positive float such as 10.0"),
        ({"handshake_timeout": -1.0}, "positive float such as 10.0"),
        ({"handshake_timeout": "10"}, "positive float such as 10.0"),
        ({"handshake_timeout": True}, "positive float such as 10.0"),
    ],
)
def test_wrong_settings_say_what_to_write(given: dict[str, Any], said: str) -> None:
    with pytest.raises(ConfigurationError, match=said):
        TLS(**given)


@pytest.mark.parametrize("make", [HTTPServer, TCPServer, SMTPServer])
def test_tls_takes_true_or_settings(make: Callable[..., Any]) -> None:
    with pytest.raises(ConfigurationError, match=r"True or understudy\.TLS"):
        make(tls="yes")


def test_settings_are_frozen_and_shown_as_public() -> None:
    settings = TLS(client_cert="required")
    with pytest.raises(AttributeError):
        settings.client_cert = "none"  # type: ignore[misc]
    assert repr(settings).startswith("TLS(certificate='valid', client_cert='required'")
    assert TLS.__module__ == TLSInfo.__module__ == "understudy"
    assert understudy.tls.ClientCertificate.__module__ == "understudy.tls"


def test_a_handshake_timeout_shares_the_context_of_the_same_settings() -> None:
    # The timeout is the listener's: servers that differ only in it share one context.
    assert TLS().handshake_timeout == 10.0
    assert server_context(TLS(handshake_timeout=0.5), "127.0.0.1") is server_context(
        TLS(), "127.0.0.1"
    )


@pytest.mark.parametrize("transport", ["udp", "unix"])
def test_syslog_over_datagrams_refuses_tls(transport: Any) -> None:
    with pytest.raises(ConfigurationError, match=r"needs transport='tcp' .*DTLS.* not offered"):
        SyslogServer(transport=transport, tls=True)


@pytest.mark.parametrize("make", [UDPServer, UnixDatagramServer])
@pytest.mark.parametrize("tls", [True, TLS(), "yes"])
def test_datagram_servers_refuse_tls_and_say_what_to_write(
    make: Callable[..., Any], tls: object
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        make(tls=tls)
    message = str(raised.value)
    assert "DTLS" in message
    assert "TCPServer(tls=" in message
    assert "SyslogServer(transport='tcp', tls=" in message


@pytest.mark.parametrize("make", [UDPServer, UnixDatagramServer])
@pytest.mark.parametrize("tls", [None, False])
def test_datagram_servers_take_no_tls(make: Callable[..., Any], tls: object) -> None:
    with make(tls=tls) as server:
        assert server.running


def test_smtp_takes_implicit_tls_or_starttls_not_both() -> None:
    with pytest.raises(ConfigurationError, match="not both"):
        SMTPServer(tls=True, starttls=True)


# -- the CA and what clients get --------------------------------------------------------------


def test_ca_bundle_is_one_file_holding_the_ca_certificate() -> None:
    path = understudy.tls.ca_bundle()
    assert path == understudy.tls.ca_bundle()
    with open(path, "rb") as file:
        assert file.read() == understudy.tls.ca.cert_pem
    assert os.stat(os.path.dirname(path)).st_mode & 0o077 == 0


def test_client_context_is_fresh_and_verifies() -> None:
    first, second = understudy.tls.client_context(), understudy.tls.client_context()
    assert first is not second
    assert first.verify_mode == ssl.CERT_REQUIRED
    assert first.check_hostname


def test_client_certificate_subject_and_file() -> None:
    cert = understudy.tls.issue_client_cert("alice", organization="Example, Inc.")
    assert cert.subject.startswith("CN=alice,")
    assert cert.subject.endswith(",O=Example\\, Inc.")
    with open(cert.path, "rb") as file:
        assert file.read() == cert.private_key_pem + cert.cert_pem
    with pytest.raises(ConfigurationError, match="common_name"):
        understudy.tls.issue_client_cert("")


def test_a_client_certificate_file_outlives_its_certificate_object() -> None:
    # Only the path is kept, as in requests' cert=issue_client_cert(...).path: the objects go,
    # and the certificates issued after them must not take their files over.
    paths = {name: understudy.tls.issue_client_cert(name).path for name in "abcdefgh"}
    assert len(set(paths.values())) == len(paths)
    with HTTPServer(tls=TLS(client_cert="required"), response=OK) as server:
        for path in paths.values():
            requests.get(server.url, verify=understudy.tls.ca_bundle(), cert=path, timeout=5)
        requests_ = server.wait_for_requests(len(paths))
    subjects = [request.tls.peer_subject if request.tls else None for request in requests_]
    assert subjects == [f"CN={name},OU=understudy client,O=understudy" for name in paths]


def test_client_certificate_is_a_client_certificate_of_the_test_ca() -> None:
    cert = understudy.tls.issue_client_cert("alice")
    assert cert.subject == "CN=alice,OU=understudy client,O=understudy"
    leaf = x509.load_pem_x509_certificate(cert.cert_pem)
    ca = x509.load_pem_x509_certificate(understudy.tls.ca.cert_pem)
    leaf.verify_directly_issued_by(ca)
    usage = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    with pytest.raises(x509.ExtensionNotFound):
        leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName)


def test_subjects_are_formatted_as_rfc_4514() -> None:
    peer = {
        "subject": (
            (("organizationName", "Ex+ample"),),
            (("commonName", " bob;"),),
        )
    }
    assert format_subject(peer) == "CN=\\ bob\\;,O=Ex\\+ample"
    assert format_subject({}) is None
    info = TLSInfo("TLSv1.3", "X", peer_subject="CN=a\\,b,O=c")
    assert info.peer_common_name == "a,b"
    assert TLSInfo("TLSv1.3", "X").peer_common_name is None


# -- HTTPS ------------------------------------------------------------------------------------


def test_requests_with_the_ca_bundle() -> None:
    with HTTPServer(response=OK, tls=True) as server:
        assert server.url.startswith("https://127.0.0.1:")
        reply = requests.get(server.url + "/a", verify=understudy.tls.ca_bundle(), timeout=5)
        assert reply.text == "secret\n"
        [request] = server.wait_for_requests(1)
    assert request.url == server.url + "/a"
    assert request.tls is not None
    assert request.tls.version in ("TLSv1.2", "TLSv1.3")
    assert request.tls.cipher
    assert request.tls.peer_subject is None


def test_httpx_with_the_client_context_negotiates_http_1_1_by_alpn() -> None:
    with (
        HTTPServer(response=OK, tls=True) as server,
        httpx.Client(verify=understudy.tls.client_context()) as client,
    ):
        assert client.get(server.url).text == "secret\n"
        [request] = server.wait_for_requests(1)
    assert request.tls is not None
    assert request.tls.alpn_protocol == "http/1.1"


def test_urllib_with_the_client_context() -> None:
    with HTTPServer(response=OK, tls=True) as server:
        context = understudy.tls.client_context()
        with urllib.request.urlopen(server.url, context=context, timeout=5) as reply:
            assert reply.read() == b"secret\n"


@pytest.mark.asyncio
async def test_aiohttp_with_the_client_context() -> None:
    async with (
        HTTPServer(response=OK, tls=True) as server,
        aiohttp.ClientSession() as session,
        session.get(server.url, ssl=understudy.tls.client_context()) as reply,
    ):
        assert await reply.text() == "secret\n"


def test_plain_http_records_no_tls() -> None:
    with HTTPServer(response=OK) as server:
        urllib.request.urlopen(server.url, timeout=5).close()
        [request] = server.wait_for_requests(1)
    assert request.tls is None


@pytest.mark.parametrize("name", ["localhost", "127.0.0.1", "::1"])
def test_the_certificate_covers_every_local_name(name: str) -> None:
    if name == "::1" and not has_ipv6_loopback():
        pytest.skip("no IPv6 loopback on this machine")
    with HTTPServer(response=OK, host="localhost", tls=True) as server:
        host = f"[{name}]" if ":" in name else name
        url = f"https://{host}:{server.port}/"
        with httpx.Client(verify=understudy.tls.client_context()) as client:
            assert client.get(url).status_code == 200


def test_keep_alive_requests_share_one_handshake_and_stop_closes_them() -> None:
    with HTTPServer(response=OK, tls=True) as server, requests.Session() as session:
        for _ in range(3):
            session.get(server.url, verify=understudy.tls.ca_bundle(), timeout=5)
        requests_seen = server.wait_for_requests(3)
        assert len({request.peer for request in requests_seen}) == 1
        server.stop()
        assert not server.running
        # The idle connection was closed by stop(): the next request needs a new server.
        with pytest.raises(requests.ConnectionError):
            session.get(server.url, verify=understudy.tls.ca_bundle(), timeout=5)


def test_a_handler_sees_tls_on_the_request() -> None:
    def handler(request: understudy.Request) -> str:
        assert request.tls is not None
        return request.tls.version

    with HTTPServer(handler=handler, tls=True) as server:
        reply = httpx.get(server.url, verify=understudy.tls.client_context())
    assert reply.text.startswith("TLSv1.")


# -- client certificates ----------------------------------------------------------------------


def test_required_client_certificate_is_recorded_per_request(http: Version) -> None:
    cert = understudy.tls.issue_client_cert("alice")
    with http.server(response=OK, tls=TLS(client_cert="required")) as server:
        context = understudy.tls.client_context(client_cert=cert)
        with http.client(verify=context) as client:
            client.get(server.url)
            client.get(server.url)  # (the same connection: one handshake, each recorded)
        first, second = server.wait_for_requests(2)
    for request in (first, second):
        assert request.http_version == http.name
        assert request.tls is not None
        assert request.tls.peer_subject == cert.subject
        assert request.tls.peer_common_name == "alice"


def test_required_client_certificate_refuses_a_client_without_one() -> None:
    with HTTPServer(response=OK, tls=TLS(client_cert="required")) as server:
        with pytest.raises(requests.exceptions.RequestException):
            requests.get(server.url, verify=understudy.tls.ca_bundle(), timeout=5)
        assert server.requests == []


def test_optional_client_certificate_accepts_both(http: Version) -> None:
    cert = understudy.tls.issue_client_cert("bob")
    with http.server(response=OK, tls=TLS(client_cert="optional")) as server:
        http.get(server.url, verify=understudy.tls.client_context())
        http.get(server.url, verify=understudy.tls.client_context(client_cert=cert))
        without, with_cert = server.wait_for_requests(2)
    assert without.tls is not None
    assert without.tls.peer_subject is None
    assert with_cert.tls is not None
    assert with_cert.tls.peer_common_name == "bob"


def test_a_certificate_from_another_ca_is_refused() -> None:
    other = trustme.CA().issue_cert("mallory.example", common_name="mallory")
    context = understudy.tls.client_context()
    other.configure_cert(context)
    with HTTPServer(response=OK, tls=TLS(client_cert="required")) as server:
        with pytest.raises(httpx.HTTPError):
            httpx.get(server.url, verify=context)
        assert server.requests == []


# -- bad certificates -------------------------------------------------------------------------


@pytest.mark.parametrize("mode", BAD_CERTIFICATES)
def test_requests_refuses_a_bad_certificate(mode: Any) -> None:
    with HTTPServer(response=OK, tls=TLS(certificate=mode)) as server:
        with pytest.raises(requests.exceptions.SSLError, match="CERTIFICATE_VERIFY_FAILED"):
            requests.get(server.url, verify=understudy.tls.ca_bundle(), timeout=5)
        assert server.requests == []


@pytest.mark.parametrize("mode", BAD_CERTIFICATES)
def test_httpx_refuses_a_bad_certificate(mode: Any) -> None:
    with (
        HTTPServer(response=OK, tls=TLS(certificate=mode)) as server,
        pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"),
    ):
        httpx.get(server.url, verify=understudy.tls.client_context())


@pytest.mark.parametrize("mode", BAD_CERTIFICATES)
def test_urllib_refuses_a_bad_certificate_saying_why(mode: Any) -> None:
    with HTTPServer(response=OK, tls=TLS(certificate=mode)) as server:
        context = understudy.tls.client_context()
        with pytest.raises(urllib.error.URLError) as caught:
            urllib.request.urlopen(server.url, context=context, timeout=5)
    reason = caught.value.reason
    assert isinstance(reason, ssl.SSLCertVerificationError)
    # OpenSSL 1.1 wrote "self signed"; 3.x writes "self-signed".
    assert reason.verify_message.replace("self signed", "self-signed").startswith(
        VERIFY_MESSAGES[mode]
    )


def test_wrong_host_names_the_host_it_is_for() -> None:
    with HTTPServer(response=OK, host="localhost", tls=TLS(certificate="wrong-host")) as server:
        url = f"https://localhost:{server.port}/"
        with pytest.raises(requests.exceptions.SSLError, match="Hostname mismatch"):
            requests.get(url, verify=understudy.tls.ca_bundle(), timeout=5)


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_a_client_that_does_not_verify_reaches_a_bad_certificate() -> None:
    """Verification off (the bug a test of a client wants to catch) gets through."""
    with HTTPServer(response=OK, tls=TLS(certificate="expired")) as server:
        reply = requests.get(server.url, verify=False, timeout=5)
        assert reply.text == "secret\n"


# -- protocol versions ------------------------------------------------------------------------


def test_maximum_version_is_what_a_client_gets() -> None:
    with HTTPServer(response=OK, tls=TLS(maximum_version=ssl.TLSVersion.TLSv1_2)) as server:
        httpx.get(server.url, verify=understudy.tls.client_context())
        [request] = server.wait_for_requests(1)
    assert request.tls is not None
    assert request.tls.version == "TLSv1.2"


def test_a_client_demanding_a_newer_version_fails_the_handshake() -> None:
    with HTTPServer(response=OK, tls=TLS(maximum_version=ssl.TLSVersion.TLSv1_2)) as server:
        context = understudy.tls.client_context()
        context.minimum_version = ssl.TLSVersion.TLSv1_3
        with pytest.raises(urllib.error.URLError) as caught:
            urllib.request.urlopen(server.url, context=context, timeout=5)
    assert isinstance(caught.value.reason, ssl.SSLError)


def test_minimum_version_refuses_an_older_client() -> None:
    with HTTPServer(response=OK, tls=TLS(minimum_version=ssl.TLSVersion.TLSv1_3)) as server:
        context = understudy.tls.client_context()
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        with pytest.raises(httpx.ConnectError):
            httpx.get(server.url, verify=context)


# -- SMTP -------------------------------------------------------------------------------------

MESSAGE = b"Subject: over TLS\r\n\r\nhello\r\n"


def test_smtps_with_auth() -> None:
    """AUTH inside implicit TLS (aiosmtpd #281: it would refuse it, not seeing the TLS)."""
    with SMTPServer(tls=True, auth={"user": "pw"}, auth_required=True) as server:
        context = understudy.tls.client_context()
        with smtplib.SMTP_SSL(server.host, server.port, context=context, timeout=5) as client:
            client.ehlo()
            assert client.has_extn("auth")
            assert not client.has_extn("starttls")
            client.login("user", "pw")
            client.sendmail("a@example.com", ["b@example.com"], MESSAGE)
        [message] = server.wait_for_messages(1)
    assert message.login == "user"
    assert message.tls is not None
    assert message.tls.version.startswith("TLSv1.")


def test_starttls_then_auth() -> None:
    with SMTPServer(starttls=True, auth={"user": "pw"}) as server:
        with smtplib.SMTP(server.host, server.port, timeout=5) as client:
            client.ehlo()
            assert client.has_extn("starttls")
            client.starttls(context=understudy.tls.client_context())
            client.login("user", "pw")
            client.sendmail("a@example.com", ["b@example.com"], MESSAGE)
            client.sendmail("a@example.com", ["c@example.com"], MESSAGE)
        first, second = server.wait_for_messages(2)
    assert first.tls is not None
    assert second.tls == first.tls
    assert first.login == "user"


def test_a_plain_message_records_no_tls_on_a_starttls_server() -> None:
    with SMTPServer(starttls=True) as server:
        with smtplib.SMTP(server.host, server.port, timeout=5) as client:
            client.sendmail("a@example.com", ["b@example.com"], MESSAGE)
        [message] = server.wait_for_messages(1)
    assert message.tls is None


def test_require_starttls_refuses_mail_before_it_and_hides_auth() -> None:
    with SMTPServer(require_starttls=True, auth={"user": "pw"}) as server:
        assert server.starttls
        with smtplib.SMTP(server.host, server.port, timeout=5) as client:
            client.ehlo()
            assert client.has_extn("starttls")
            assert not client.has_extn("auth")
            code, reply = client.mail("a@example.com")
            assert code == 530
            assert b"STARTTLS" in reply
            client.starttls(context=understudy.tls.client_context())
            client.ehlo()
            assert client.has_extn("auth")
            client.login("user", "pw")
            client.sendmail("a@example.com", ["b@example.com"], MESSAGE)
        [message] = server.wait_for_messages(1)
    assert message.tls is not None


def test_smtp_handler_with_secure_upgrades_by_starttls() -> None:
    with SMTPServer(starttls=True, auth={"user": "pw"}) as server:
        handler = logging.handlers.SMTPHandler(
            (server.host, server.port),
            "app@example.com",
            ["ops@example.com"],
            "alert",
            credentials=("user", "pw"),
            secure=(),
            timeout=5,
        )
        logger = logging.getLogger("test_tls.smtp_handler")
        logger.propagate = False
        logger.addHandler(handler)
        try:
            logger.error("disk full")
        finally:
            logger.removeHandler(handler)
            handler.close()
        [message] = server.wait_for_messages(1)
    assert message["Subject"] == "alert"
    assert message.login == "user"
    assert message.tls is not None


def test_smtp_client_certificate_over_starttls() -> None:
    cert = understudy.tls.issue_client_cert("mailer")
    with SMTPServer(starttls=TLS(client_cert="required")) as server:
        with smtplib.SMTP(server.host, server.port, timeout=5) as client:
            client.starttls(context=understudy.tls.client_context(client_cert=cert))
            client.sendmail("a@example.com", ["b@example.com"], MESSAGE)
        [message] = server.wait_for_messages(1)
    assert message.tls is not None
    assert message.tls.peer_subject == cert.subject


def test_smtps_refuses_a_client_that_speaks_plain() -> None:
    with SMTPServer(tls=True) as server:
        with pytest.raises((smtplib.SMTPException, OSError)):
            smtplib.SMTP(server.host, server.port, timeout=2)
        assert server.messages == []


# -- TCP and syslog ---------------------------------------------------------------------------


def tls_connect(address: tuple[str, int], **context: Any) -> ssl.SSLSocket:
    ctx = understudy.tls.client_context(**context)
    return ctx.wrap_socket(
        socket.create_connection(address, timeout=5), server_hostname="localhost"
    )


def test_tcp_over_tls_records_the_decrypted_bytes() -> None:
    with TCPServer(echo=True, tls=True) as server:
        with tls_connect(server.address) as client:
            client.sendall(b"ping")
            assert client.recv(4) == b"ping"
        [record] = server.wait_for_connections(1)
    assert record.data == b"ping"
    assert record.tls is not None
    assert record.tls.peer_subject is None


def test_tcp_handler_over_mutual_tls() -> None:
    def handler(connection: understudy.StreamConnection) -> None:
        assert connection.record.tls is not None
        connection.sendall(f"hello {connection.record.tls.peer_common_name}\n".encode())

    cert = understudy.tls.issue_client_cert("carol")
    with TCPServer(handler=handler, tls=TLS(client_cert="required")) as server:
        with tls_connect(server.address, client_cert=cert) as client:
            assert client.makefile("rb").readline() == b"hello carol\n"
        [record] = server.wait_for_connections(1)
    assert record.tls is not None
    assert record.tls.peer_subject == cert.subject


def test_plain_tcp_records_no_tls() -> None:
    with TCPServer() as server:
        with socket.create_connection(server.address, timeout=5) as client:
            client.sendall(b"x")
        [record] = server.wait_for_connections(1)
    assert record.tls is None


def test_syslog_over_tls_octet_counted() -> None:
    frames = [
        b"<34>1 2003-10-11T22:14:15.003Z mymachine su - ID47 - first",
        b"<165>1 2003-10-11T22:14:15.003Z mymachine app 42 ID48 - second",
    ]
    with SyslogServer(transport="tcp", tls=True) as server, tls_connect(server.address) as client:
        client.sendall(b"".join(b"%d %s" % (len(frame), frame) for frame in frames))
        first, second = server.wait_for_messages(2)
    assert (first.app_name, first.msg) == ("su", "first")
    assert (second.procid, second.msg) == ("42", "second")


def test_syslog_over_tls_records_what_the_connection_agreed_on() -> None:
    cert = understudy.tls.issue_client_cert("relay")
    frame = b"<34>1 2003-10-11T22:14:15.003Z mymachine su - ID47 - over TLS"
    settings = TLS(client_cert="optional", maximum_version=ssl.TLSVersion.TLSv1_2)
    with SyslogServer(transport="tcp", tls=settings) as server:
        with tls_connect(server.address, client_cert=cert) as client:
            client.sendall(frame_octet_counted(frame))
            with tls_connect(server.address) as anonymous:
                anonymous.sendall(b"<13>no certificate\n")
            client.sendall(b"<35>no length, LF-framed\n")
            version, cipher = client.version(), client.cipher()
        messages = server.wait_for_messages(3)
    signed = [message for message in messages if message.tls and message.tls.peer_subject]
    assert [message.msg for message in signed] == ["over TLS", "no length, LF-framed"]
    assert all(message.tls == signed[0].tls for message in signed)
    assert isinstance(signed[0].tls, TLSInfo)
    assert signed[0].tls.version == version == "TLSv1.2"
    assert cipher is not None
    assert signed[0].tls.cipher == cipher[0]
    assert signed[0].tls.peer_common_name == "relay"
    [anonymous_message] = [message for message in messages if message not in signed]
    assert anonymous_message.msg == "no certificate"
    assert anonymous_message.tls is not None
    assert anonymous_message.tls.peer_subject is None


def test_syslog_over_tls_records_tls_on_refused_frames_too() -> None:
    with SyslogServer(transport="tcp", tls=True, max_message_size=16) as server:
        with tls_connect(server.address) as client:
            client.sendall(b"<13>" + b"x" * 40 + b"\n")
        [message] = server.wait_for_messages(1)
    assert message.error is not None
    assert message.tls is not None
    assert message.tls.version.startswith("TLSv1.")


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_plain_syslog_records_no_tls(transport: Any) -> None:
    with SyslogServer(transport=transport) as server:
        handler = logging.handlers.SysLogHandler(
            address=server.address,
            socktype=socket.SOCK_DGRAM if transport == "udp" else socket.SOCK_STREAM,
        )
        try:
            handler.emit(logging.makeLogRecord({"msg": "plain", "levelno": logging.INFO}))
        finally:
            handler.close()
        [message] = server.wait_for_messages(1)
    assert message.msg == "plain"
    assert message.tls is None


# -- fixtures ---------------------------------------------------------------------------------


def test_https_server_fixture(
    https_server: HTTPServer, tls_ca: understudy.tls.CertificateAuthority
) -> None:
    https_server.expect("GET", "/").respond(body="fixture")
    assert https_server.url.startswith("https://")
    assert httpx.get(https_server.url, verify=tls_ca.client_context()).text == "fixture"


@pytest.mark.usefixtures("inner_ini")
def test_fixtures_in_a_plugin_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import socket
        import httpx
        import understudy

        def test_make_factories_take_tls(make_tcp_server, make_http_server, tls_ca):
            tcp = make_tcp_server(echo=True, tls=True)
            context = tls_ca.client_context()
            raw = socket.create_connection(tcp.address, timeout=5)
            with context.wrap_socket(raw, server_hostname="127.0.0.1") as client:
                client.sendall(b"x")
                assert client.recv(1) == b"x"
            https = make_http_server(
                response=understudy.Response(200, body="ok"),
                tls=understudy.TLS(client_cert="optional"),
            )
            assert httpx.get(https.url, verify=tls_ca.client_context()).text == "ok"

        def test_smtp_factory_takes_tls(make_smtp_server, make_syslog_server):
            assert make_smtp_server(tls=True).running
            assert make_syslog_server(transport="tcp", tls=True).running

        def test_https_server_takes_options(https_server, tls_ca):
            assert https_server.url.startswith("https://")
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=3)


# -- fork -------------------------------------------------------------------------------------


def serve_https_in_child(conn: Any) -> None:
    with HTTPServer(response=Response(200, body=f"pid {os.getpid()}"), tls=True) as server:
        reply = httpx.get(server.url, verify=understudy.tls.client_context())
    conn.send(reply.text)
    conn.close()


@pytest.mark.allow_leaks
def test_a_forked_child_serves_https_from_the_same_ca() -> None:
    with HTTPServer(response=OK, tls=True):  # the CA and the runtime exist in the parent
        context: Any = multiprocessing.get_context("fork")
        parent_end, child_end = context.Pipe()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            child = context.Process(target=serve_https_in_child, args=(child_end,))
            child.start()
        try:
            assert parent_end.poll(30), "the child did not answer within 30 s"
            text = parent_end.recv()
        finally:
            child.join(30)
            parent_end.close()
            child_end.close()
    assert child.exitcode == 0
    assert text == f"pid {child.pid}"


def test_a_handler_s_requests_on_one_connection_share_its_tls_info() -> None:
    seen: list[Request] = []

    def handler(request: Request) -> Response:
        seen.append(request)
        return Response(204)

    with (
        HTTPServer(handler=handler, tls=True) as server,
        httpx.Client(verify=understudy.tls.client_context()) as client,
    ):
        for _ in range(2):
            assert client.get(server.url + "/").status_code == 204
        journaled = server.requests
    first, second = seen
    assert first.tls is not None
    assert first.tls is second.tls  # (made once per connection, not per request)
    assert [first.tls, second.tls] == [request.tls for request in journaled]
