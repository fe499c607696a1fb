"""How to test a client against a server that fails or is slow.

An expectation can fail a request instead of answering it, with ``.fault(understudy.Fault.X)``,
and can answer late (``delay=``, seconds or an ``understudy.Delay`` drawn per request) or slowly
(``dribble=understudy.Dribble(...)``: the body in pieces over time). These steps chain like any
other, so "reset twice, then 200" is one line. A handler may return a ``Fault`` too. An
``SMTPServer`` takes ``failures=[understudy.SMTPFailure(...)]``: an error reply or a dropped
connection at a stage of the dialogue, on the Nth message, the first N times, or by chance.

Every failed request is still in the journal, and random choices come from ``server.random``:
seed it to replay a run.

Reference (built by ``make docs`` into site/; every attribute, with its type): ``Fault``, ``Delay``,
``Dribble``: docs/reference/faults.md; ``SMTPFailure``: docs/reference/mail.md; the ``Request``
records: docs/reference/http.md.
"""

import smtplib

import httpx
import pytest
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

import understudy
from understudy import Delay, Dribble, Fault, SMTPFailure


def test_a_client_that_retries_gets_through_two_resets() -> None:
    with understudy.HTTPServer() as server:
        server.expect("GET", "/orders").fault(Fault.CONNECTION_RESET).times(2).then.respond(
            json={"orders": []}
        )

        with requests.Session() as session:
            session.mount("http://", HTTPAdapter(max_retries=Retry(total=3, backoff_factor=0)))
            assert session.get(server.url + "/orders", timeout=5).json() == {"orders": []}

        assert len(server.requests) == 3  # the two reset requests are recorded too


def test_a_client_gives_up_on_a_stalled_or_slow_server() -> None:
    with understudy.HTTPServer() as server:
        # The head arrives, the body never does; stop() ends it (the client reads end of stream).
        server.expect("GET", "/stalled").fault(Fault.STALL)
        # A delay drawn for each request: here always longer than the client waits.
        server.expect("GET", "/slow").respond(200, delay=Delay.uniform(30, 60))

        with pytest.raises(httpx.ReadTimeout):
            httpx.get(server.url + "/stalled", timeout=0.2)
        with pytest.raises(httpx.ReadTimeout):
            httpx.get(server.url + "/slow", timeout=0.2)


def test_a_body_that_arrives_slowly_and_one_cut_short() -> None:
    with understudy.HTTPServer() as server:
        server.expect("GET", "/report").respond(
            200, body="a,b,c\n1,2,3\n", dribble=Dribble(chunks=4, duration=0.1)
        )
        server.expect("GET", "/broken").fault(Fault.TRUNCATED_BODY)

        assert requests.get(server.url + "/report", timeout=5).text == "a,b,c\n1,2,3\n"
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            requests.get(server.url + "/broken", timeout=5)


def test_a_handler_decides_when_to_fail() -> None:
    def handler(request: understudy.Request) -> object:
        if request.headers.get("X-Fail") == "yes":
            return Fault.CLOSE
        return {"ok": True}

    with understudy.HTTPServer(handler=handler) as server:
        with pytest.raises(requests.ConnectionError):
            requests.get(server.url + "/", headers={"X-Fail": "yes"}, timeout=5)
        assert requests.get(server.url + "/", timeout=5).json() == {"ok": True}


def test_a_mailer_sees_smtp_failures() -> None:
    failures = [
        SMTPFailure("rcpt", 452, times=1),  # the first RCPT gets "452 mailbox full"
        SMTPFailure("data", drop=True, nth=2),  # the second DATA: the connection drops mid-DATA
    ]
    with understudy.SMTPServer(failures=failures) as server:

        def send() -> None:
            with smtplib.SMTP(server.host, server.port, timeout=5) as client:
                client.sendmail("app@example.com", ["ada@example.com"], "Subject: hi\r\n\r\nhi\r\n")

        with pytest.raises(smtplib.SMTPRecipientsRefused):
            send()
        send()
        with pytest.raises(smtplib.SMTPServerDisconnected):
            send()
        assert len(server.messages) == 1
