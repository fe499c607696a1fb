"""How to test a client's TLS: HTTPS, mutual TLS, bad certificates, SMTPS and STARTTLS.

``tls=True`` makes a server present a certificate from the process's test CA (made with trustme,
in memory, on first use) for ``localhost``, ``127.0.0.1`` and ``::1``. The client trusts the CA
through :func:`understudy.tls.client_context` (an ``ssl.SSLContext``) or
:func:`understudy.tls.ca_bundle` (a PEM file path).

Reference (built by ``make docs`` into site/; every attribute, with its type): ``TLS``, ``TLSInfo``
(``request.tls``) and ``understudy.tls``: docs/reference/tls.md.
"""

import smtplib
import ssl
import urllib.error
import urllib.request

import httpx
import pytest
import requests

import understudy
import understudy.tls


def test_https_with_requests_and_httpx() -> None:
    with understudy.HTTPServer(response=understudy.Response(json={"ok": True}), tls=True) as server:
        assert server.url.startswith("https://")
        assert requests.get(server.url, verify=understudy.tls.ca_bundle(), timeout=5).ok
        assert httpx.get(server.url, verify=understudy.tls.client_context()).json() == {"ok": True}

        first, _ = server.wait_for_requests(2)
        assert first.tls is not None
        assert first.tls.version in ("TLSv1.2", "TLSv1.3")


def test_mutual_tls_records_who_the_client_is() -> None:
    cert = understudy.tls.issue_client_cert("billing-service")
    settings = understudy.TLS(client_cert="required")
    with understudy.HTTPServer(response=understudy.Response(204), tls=settings) as server:
        requests.get(server.url, verify=understudy.tls.ca_bundle(), cert=cert.path, timeout=5)

        [request] = server.wait_for_requests(1)
        assert request.tls is not None
        assert request.tls.peer_common_name == "billing-service"


@pytest.mark.parametrize("certificate", ["expired", "wrong-host", "untrusted-ca"])
def test_the_client_refuses_a_bad_certificate(certificate: str) -> None:
    settings = understudy.TLS(certificate=certificate)  # type: ignore[arg-type]
    with understudy.HTTPServer(response=understudy.Response(200), tls=settings) as server:
        context = understudy.tls.client_context()
        with pytest.raises(urllib.error.URLError) as refused:
            urllib.request.urlopen(server.url, context=context, timeout=5)
        assert isinstance(refused.value.reason, ssl.SSLCertVerificationError)


def test_smtps_and_starttls() -> None:
    context = understudy.tls.client_context()
    with understudy.SMTPServer(tls=True, auth={"user": "secret"}) as server:
        with smtplib.SMTP_SSL(server.host, server.port, context=context, timeout=5) as client:
            client.login("user", "secret")
            client.sendmail("app@example.com", ["ops@example.com"], b"Subject: hi\r\n\r\n.")
        [message] = server.wait_for_messages(1)
        assert message.login == "user"

    with understudy.SMTPServer(require_starttls=True) as server:
        with smtplib.SMTP(server.host, server.port, timeout=5) as client:
            client.starttls(context=context)
            client.sendmail("app@example.com", ["ops@example.com"], b"Subject: hi\r\n\r\n.")
        [message] = server.wait_for_messages(1)
        assert message.tls is not None


def test_the_https_server_fixture(
    https_server: understudy.HTTPServer, tls_ca: understudy.tls.CertificateAuthority
) -> None:
    https_server.expect("GET", "/health").respond(body="up")
    reply = httpx.get(https_server.url + "/health", verify=tls_ca.client_context())
    assert reply.text == "up"
