"""The reply each command of a mail transaction got: ``message.replies``, seen with smtplib."""

from __future__ import annotations

import smtplib

import pytest

from understudy import SMTPFailure, SMTPReply, SMTPServer

MESSAGE = "Subject: hello\r\n\r\nbody\r\n"


def codes(replies: tuple[SMTPReply, ...]) -> list[tuple[str, int]]:
    return [(reply.command, reply.code) for reply in replies]


def test_each_command_of_the_transaction_and_its_reply() -> None:
    with SMTPServer() as server:
        with smtplib.SMTP(server.host, server.port, timeout=5) as client:
            client.sendmail("from@example.com", ["a@example.com", "b@example.com"], MESSAGE)
        # Once smtplib has the last reply, the journal has it: no wait needed.
        [message] = server.messages
    assert codes(message.replies) == [
        ("MAIL", 250),
        ("RCPT", 250),
        ("RCPT", 250),
        ("DATA", 354),
        (".", 250),
    ]
    assert [reply.address for reply in message.replies[:3]] == [
        "from@example.com",
        "a@example.com",
        "b@example.com",
    ]
    assert message.replies[-1] == SMTPReply(".", 250, "OK")


def test_a_refused_recipient_is_visible() -> None:
    with SMTPServer(reject={"gone@example.com": "550 5.1.1 no such user"}) as server:
        with smtplib.SMTP(server.host, server.port, timeout=5) as client:
            refused = client.sendmail(
                "from@example.com", ["gone@example.com", "here@example.com"], MESSAGE
            )
        assert refused == {"gone@example.com": (550, b"5.1.1 no such user")}
        [message] = server.wait_for_messages(1)
    assert message.rcpt_tos == ["here@example.com"]
    [bad] = [reply for reply in message.replies if reply.code >= 400]
    assert bad == SMTPReply("RCPT", 550, "5.1.1 no such user", "gone@example.com")


def test_a_failure_at_the_end_of_data() -> None:
    with SMTPServer(failures=[SMTPFailure("end_of_data", 451, nth=1)]) as server:
        with smtplib.SMTP(server.host, server.port, timeout=5) as client:
            with pytest.raises(smtplib.SMTPDataError) as raised:
                client.sendmail("from@example.com", ["to@example.com"], MESSAGE)
            assert raised.value.smtp_code == 451
            client.sendmail("from@example.com", ["to@example.com"], MESSAGE)  # a retry
        first, retried = server.wait_for_messages(2)
    assert codes(first.replies)[-1] == (".", 451)
    assert codes(retried.replies) == [("MAIL", 250), ("RCPT", 250), ("DATA", 354), (".", 250)]


def test_a_failure_at_rcpt() -> None:
    with SMTPServer(failures=[SMTPFailure("rcpt", 452, nth=1)]) as server:
        with smtplib.SMTP(server.host, server.port, timeout=5) as client:
            refused = client.sendmail(
                "from@example.com", ["a@example.com", "b@example.com"], MESSAGE
            )
        assert list(refused) == ["a@example.com"]
        [message] = server.wait_for_messages(1)
    assert codes(message.replies) == [
        ("MAIL", 250),
        ("RCPT", 452),
        ("RCPT", 250),
        ("DATA", 354),
        (".", 250),
    ]


def test_content_over_the_limit_keeps_its_replies() -> None:
    with SMTPServer(max_message_size=100) as server:
        with smtplib.SMTP(server.host, server.port, timeout=5) as client:
            client.ehlo()
            client.mail("from@example.com")  # (no SIZE=: refused at the end of DATA)
            client.rcpt("to@example.com")
            assert client.data(b"x" * 500)[0] == 552
        [message] = server.wait_for_messages(1)
    assert message.error is not None
    assert codes(message.replies)[-1] == (".", 552)


def test_help_inside_a_transaction_is_not_taken_for_the_command_it_names() -> None:
    with SMTPServer() as server:
        with smtplib.SMTP(server.host, server.port, timeout=5) as client:
            client.ehlo()
            client.mail("from@example.com")
            client.docmd("HELP", "RCPT")
            client.rcpt("to@example.com")
            client.data(MESSAGE.encode())
        [message] = server.wait_for_messages(1)
    assert [reply.command for reply in message.replies] == ["MAIL", "HELP", "RCPT", "DATA", "."]


def test_a_nested_mail_is_a_reply_of_the_transaction_under_way() -> None:
    with SMTPServer() as server:
        with smtplib.SMTP(server.host, server.port, timeout=5) as client:
            client.ehlo()
            client.mail("from@example.com")
            client.rcpt("to@example.com")
            assert client.mail("other@example.com")[0] == 503  # (RFC 5321 §4.1.4: no nesting)
            client.data(MESSAGE.encode())
        [message] = server.wait_for_messages(1)
    assert message.mail_from == "from@example.com"
    assert codes(message.replies) == [
        ("MAIL", 250),
        ("RCPT", 250),
        ("MAIL", 503),
        ("DATA", 354),
        (".", 250),
    ]
