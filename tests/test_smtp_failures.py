"""SMTP failures injected by stage, position and chance, seen by smtplib over real sockets."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from typing import Any

import pytest

import understudy.tls
from understudy import ConfigurationError, SMTPFailure, SMTPServer

MESSAGE = "Subject: hello\r\n\r\nbody\r\n"


def send(server: SMTPServer, *, to: list[str] | None = None, login: bool = False) -> None:
    """One message, on its own connection."""
    with smtplib.SMTP(server.host, server.port, timeout=5) as client:
        if login:
            client.login("user", "secret")
        client.sendmail("from@example.com", to or ["to@example.com"], MESSAGE)


@pytest.fixture
def make_server() -> Iterator[Any]:
    servers: list[SMTPServer] = []

    def make(*failures: SMTPFailure, **options: Any) -> SMTPServer:
        server = SMTPServer(failures=list(failures), **options).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()
        server.check()  # an injected failure is behaviour, not an error


# -- each stage --------------------------------------------------------------------------------


def test_a_greeting_that_refuses_service(make_server: Any) -> None:
    server = make_server(SMTPFailure("connect", 421))
    with pytest.raises(smtplib.SMTPConnectError) as raised:
        smtplib.SMTP(server.host, server.port, timeout=5)
    assert raised.value.smtp_code == 421
    assert raised.value.smtp_error == b"4.3.2 Service not available"


def test_a_greeting_with_a_reply_line_of_its_own(make_server: Any) -> None:
    server = make_server(SMTPFailure("connect", "554 5.3.2 No service here"))
    with pytest.raises(smtplib.SMTPConnectError) as raised:
        smtplib.SMTP(server.host, server.port, timeout=5)
    assert (raised.value.smtp_code, raised.value.smtp_error) == (554, b"5.3.2 No service here")


def test_a_connection_dropped_before_the_greeting(make_server: Any) -> None:
    server = make_server(SMTPFailure("connect", drop=True))
    with pytest.raises(smtplib.SMTPServerDisconnected):
        smtplib.SMTP(server.host, server.port, timeout=5)


def test_mail_from_refused(make_server: Any) -> None:
    server = make_server(SMTPFailure("mail", 451))
    with pytest.raises(smtplib.SMTPSenderRefused) as raised:
        send(server)
    assert raised.value.smtp_code == 451
    assert server.messages == []


def test_rcpt_to_refused(make_server: Any) -> None:
    server = make_server(SMTPFailure("rcpt", 550))
    with pytest.raises(smtplib.SMTPRecipientsRefused) as raised:
        send(server)
    assert raised.value.recipients == {"to@example.com": (550, b"5.1.1 Mailbox unavailable")}


def test_the_second_recipient_refused(make_server: Any) -> None:
    server = make_server(SMTPFailure("rcpt", 452, nth=2))
    send(server, to=["a@example.com", "b@example.com", "c@example.com"])
    [message] = server.wait_for_messages(1)
    assert message.rcpt_tos == ["a@example.com", "c@example.com"]


def test_data_refused(make_server: Any) -> None:
    server = make_server(SMTPFailure("data", 554))
    with pytest.raises(smtplib.SMTPDataError) as raised:
        send(server)
    assert raised.value.smtp_code == 554
    assert server.messages == []


def test_a_connection_dropped_mid_data(make_server: Any) -> None:
    server = make_server(SMTPFailure("data", drop=True))
    with pytest.raises(smtplib.SMTPServerDisconnected):
        send(server)
    assert server.messages == []


def test_a_message_refused_after_its_content_is_recorded(make_server: Any) -> None:
    server = make_server(SMTPFailure("end_of_data", "451 4.3.0 Try again later"))
    with pytest.raises(smtplib.SMTPDataError) as raised:
        send(server)
    assert (raised.value.smtp_code, raised.value.smtp_error) == (451, b"4.3.0 Try again later")
    assert server.wait_for_messages(1)[0].subject == "hello"


def test_a_connection_dropped_after_the_content_leaves_the_client_in_doubt(
    make_server: Any,
) -> None:
    server = make_server(SMTPFailure("end_of_data", drop=True))
    with pytest.raises(smtplib.SMTPServerDisconnected):
        send(server)
    assert server.wait_for_messages(1)[0].subject == "hello"


@pytest.mark.parametrize(("code", "text"), [(454, b"4.7.0 Temporary authentication failure")])
def test_auth_refused(make_server: Any, code: int, text: bytes) -> None:
    server = make_server(SMTPFailure("auth", code), auth={"user": "secret"})
    with pytest.raises(smtplib.SMTPAuthenticationError) as raised:
        send(server, login=True)
    assert (raised.value.smtp_code, raised.value.smtp_error) == (code, text)


def test_a_connection_dropped_at_auth(make_server: Any) -> None:
    server = make_server(SMTPFailure("auth", drop=True), auth={"user": "secret"})
    with pytest.raises(smtplib.SMTPServerDisconnected):
        send(server, login=True)


# -- position and chance ---------------------------------------------------------------------


def test_the_nth_message_fails(make_server: Any) -> None:
    server = make_server(SMTPFailure("end_of_data", 451, nth=2))
    outcomes = []
    with smtplib.SMTP(server.host, server.port, timeout=5) as client:
        for _ in range(3):
            try:
                client.sendmail("from@example.com", ["to@example.com"], MESSAGE)
                outcomes.append("sent")
            except smtplib.SMTPDataError as error:
                outcomes.append(str(error.smtp_code))
    assert outcomes == ["sent", "451", "sent"]


def test_the_second_connection_is_refused(make_server: Any) -> None:
    server = make_server(SMTPFailure("connect", 421, nth=2))
    send(server)
    with pytest.raises(smtplib.SMTPConnectError):
        send(server)
    send(server)
    assert len(server.wait_for_messages(2)) == 2


def test_fail_the_first_two_then_accept_a_retrying_client(make_server: Any) -> None:
    server = make_server(SMTPFailure("mail", 451, times=2))
    attempts = 0
    while True:
        attempts += 1
        try:
            send(server)
            break
        except smtplib.SMTPSenderRefused:
            assert attempts < 5
    assert attempts == 3
    assert len(server.wait_for_messages(1)) == 1


def test_a_failure_given_to_two_servers_counts_for_each_of_them(make_server: Any) -> None:
    # (a module-level list shared by tests: each server's counts start at its own first arrival)
    flaky = SMTPFailure("mail", 451, times=1)
    for _ in range(2):
        server = make_server(flaky)
        with pytest.raises(smtplib.SMTPSenderRefused):
            send(server)
        send(server)
        assert len(server.wait_for_messages(1)) == 1


def outcomes_with_seed(make_server: Any, seed: int) -> list[bool]:
    server = make_server(SMTPFailure("rcpt", 450, probability=0.5))
    server.random.seed(seed)
    refused = []
    with smtplib.SMTP(server.host, server.port, timeout=5) as client:
        client.ehlo()
        client.mail("from@example.com")
        for number in range(20):
            code, _ = client.rcpt(f"to{number}@example.com")
            refused.append(code == 450)
        client.rset()
    return refused


def test_a_probable_failure_replays_with_the_same_seed(make_server: Any) -> None:
    first = outcomes_with_seed(make_server, 7)
    assert first == outcomes_with_seed(make_server, 7)
    assert any(first)
    assert not all(first)


@pytest.mark.parametrize(("probability", "refused"), [(0.0, False), (1.0, True)])
def test_certain_probabilities(make_server: Any, probability: float, refused: bool) -> None:
    server = make_server(SMTPFailure("mail", 451, probability=probability))
    if refused:
        with pytest.raises(smtplib.SMTPSenderRefused):
            send(server)
    else:
        send(server)


def test_the_first_failure_that_strikes_wins_and_each_counts(make_server: Any) -> None:
    server = make_server(SMTPFailure("mail", 451, nth=1), SMTPFailure("mail", 452, nth=2))
    codes = []
    for _ in range(3):
        try:
            send(server)
            codes.append(250)
        except smtplib.SMTPSenderRefused as error:
            codes.append(error.smtp_code)
    assert codes == [451, 452, 250]


def test_failures_come_before_reject_rules(make_server: Any) -> None:
    server = make_server(SMTPFailure("rcpt", 452, times=1), reject={"to@example.com": 550})
    codes = []
    for _ in range(2):
        with pytest.raises(smtplib.SMTPRecipientsRefused) as raised:
            send(server)
        codes.append(raised.value.recipients["to@example.com"][0])
    assert codes == [452, 550]


# -- wrong arguments -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "options", "message"),
    [
        (("helo", 421), {}, r"stage must be one of 'connect', 'auth'"),
        (("mail",), {}, r"a reply code .* or drop=True"),
        (("mail", 451), {"drop": True}, r"one of the two"),
        (("mail", 250), {}, r"error code from 400 to 559"),
        (("mail", "hello"), {}, r"error code from 400 to 559"),
        (("mail", 451), {"nth": 0}, r"nth must be a positive int"),
        (("mail", 451), {"times": -1}, r"times must be a positive int"),
        (("mail", 451), {"probability": 2}, r"probability must be a number from 0 to 1"),
    ],
)
def test_bad_failures_are_refused(arguments: tuple[Any, ...], options: Any, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        SMTPFailure(*arguments, **options)


@pytest.mark.parametrize("failures", [SMTPFailure("mail", 451), "mail", [451]])
def test_failures_is_a_list_of_failures(failures: Any) -> None:
    with pytest.raises(ConfigurationError, match=r"failures= (takes a list|holds)"):
        SMTPServer(failures=failures)


def test_a_failure_says_what_it_is() -> None:
    assert repr(SMTPFailure("rcpt", 452, times=1)) == (
        "understudy.SMTPFailure('rcpt', '452 4.2.2 Insufficient system storage', times=1)"
    )
    assert repr(SMTPFailure("data", drop=True, probability=0.25)) == (
        "understudy.SMTPFailure('data', drop=True, probability=0.25)"
    )


# -- with TLS --------------------------------------------------------------------------------


def test_starttls_is_not_a_new_connection(make_server: Any) -> None:
    server = make_server(SMTPFailure("connect", 421, nth=2), starttls=True)
    with smtplib.SMTP(server.host, server.port, timeout=5) as client:
        client.starttls(context=understudy.tls.client_context())
        client.sendmail("from@example.com", ["to@example.com"], MESSAGE)
    with pytest.raises(smtplib.SMTPConnectError):
        send(server)
    assert len(server.wait_for_messages(1)) == 1


def test_a_refusing_greeting_over_implicit_tls(make_server: Any) -> None:
    server = make_server(SMTPFailure("connect", 421), tls=True)
    with pytest.raises(smtplib.SMTPConnectError) as raised:
        smtplib.SMTP_SSL(
            server.host, server.port, timeout=5, context=understudy.tls.client_context()
        )
    assert raised.value.smtp_code == 421
