"""How to read what an SMTPServer journaled: each ``SMTPMessage``, its envelope and its replies.

``server.wait_for_messages(...)`` (or ``server.messages``) gives :class:`understudy.SMTPMessage`
records: the envelope (``helo``, ``mail_from``, ``rcpt_tos``, the ``MAIL FROM`` parameters in
``mail_options``), every reply of the transaction as :class:`understudy.SMTPReply` values
(command, code, text, address), the content as sent (``data``) and parsed (``email``, and the
shortcuts ``text``, ``html``, ``attachments``, ``message["Subject"]``), who sent it and when
(``peer``, ``received_at``), and ``error`` for content the server refused at the end of DATA.

Reference (built by ``make docs`` into site/; every attribute, with its type): ``SMTPMessage``,
``SMTPReply``: docs/reference/mail.md.
"""

from __future__ import annotations

import smtplib
import time
from email.message import EmailMessage

import pytest

import understudy
from understudy import SMTPReply


def test_the_envelope_and_every_reply_of_the_transaction() -> None:
    """helo, mail_from, rcpt_tos, mail_options, and ``replies``: a refused recipient too."""
    content = b"Subject: Daily report\r\n\r\nAll good.\r\n"
    with understudy.SMTPServer(smtputf8=True, reject={"gone@example.com": 550}) as server:
        with smtplib.SMTP(server.host, server.port, local_hostname="app.example", timeout=5) as c:
            before = time.time()
            refused = c.sendmail(
                "app@example.com",
                ["ops@example.com", "gone@example.com"],
                content,
                mail_options=["SMTPUTF8"],
            )
            after = time.time()
        assert refused == {"gone@example.com": (550, b"5.1.1 Mailbox unavailable")}
        [message] = server.wait_for_messages(1)

    assert message.helo == "app.example"  # the name given in EHLO
    assert message.mail_from == "app@example.com"
    assert message.rcpt_tos == ["ops@example.com"]  # the accepted recipients only
    # MAIL FROM's parameters: SIZE (RFC 1870) smtplib adds by itself, SMTPUTF8 (RFC 6531).
    assert message.mail_options == [f"SIZE={len(content)}", "SMTPUTF8"]
    assert message.smtputf8
    assert message.rcpt_options == []  # no RCPT TO parameter is offered: one gets 555
    assert message.replies == (
        SMTPReply("MAIL", 250, "OK", "app@example.com"),
        SMTPReply("RCPT", 250, "OK", "ops@example.com"),
        SMTPReply("RCPT", 550, "5.1.1 Mailbox unavailable", "gone@example.com"),
        SMTPReply("DATA", 354, "End data with <CR><LF>.<CR><LF>"),
        SMTPReply(".", 250, "OK"),  # the answer to the end of the content: taken
    )
    assert message.peer is not None
    assert message.peer[0] == "127.0.0.1"  # the client's (host, port)
    assert before <= message.received_at <= after  # time.time(), float seconds
    assert message.error is None
    assert message.data == content  # as received


def test_the_content_parsed_text_html_and_attachments() -> None:
    """``text`` and ``html`` are the body parts, ``attachments`` the rest, ``email`` the whole."""
    mail = EmailMessage()
    mail["From"] = "billing@example.com"
    mail["To"] = "ada@example.com"
    mail["Subject"] = "Ihre Rechnung für März"  # non-ASCII: sent as an RFC 2047 encoded word
    mail.set_content("Total: 42 EUR\n")
    mail.add_alternative("<p>Total: <b>42 EUR</b></p>\n", subtype="html")
    mail.add_attachment(b"item,price\nbook,42\n", maintype="text", subtype="csv", filename="a.csv")
    with understudy.SMTPServer() as server:
        with smtplib.SMTP(server.host, server.port, timeout=5) as client:
            client.send_message(mail)
        [message] = server.wait_for_messages(1)

    assert message["Subject"] == "Ihre Rechnung für März"  # decoded
    assert message.rcpt_tos == ["ada@example.com"]  # send_message took it from To
    assert message.text == "Total: 42 EUR\n"
    assert message.html == "<p>Total: <b>42 EUR</b></p>\n"
    [attachment] = message.attachments
    assert attachment.get_filename() == "a.csv"
    assert attachment.get_content_type() == "text/csv"
    assert attachment.get_content() == "item,price\nbook,42\n"
    assert message.email.get_content_type() == "multipart/mixed"  # an EmailMessage
    assert message.email.defects == []


def test_content_over_the_size_limit_is_refused_and_recorded_with_the_reply() -> None:
    """``error`` holds the reply that refused the content; its bytes are not kept."""
    with understudy.SMTPServer(max_message_size=100) as server:
        with smtplib.SMTP(server.host, server.port, timeout=5) as client:
            client.helo("old.example")  # plain HELO: no SIZE= to refuse it at MAIL FROM
            with pytest.raises(smtplib.SMTPDataError) as refused:
                client.sendmail("app@example.com", ["ops@example.com"], b"x" * 500)
        assert refused.value.smtp_code == 552
        [message] = server.wait_for_messages(1)

    assert message.error == "552 Error: Too much mail data"
    assert message.data == b""
    assert (message.helo, message.mail_from) == ("old.example", "app@example.com")
    assert message.replies[-1] == SMTPReply(".", 552, "Error: Too much mail data")


def test_a_message_your_handler_refuses_has_no_error_but_its_last_reply() -> None:
    """A handler's refusal is the reply to ``"."``; ``error`` is only for the server's limits."""
    with understudy.SMTPServer(handler=lambda message: "554 5.7.1 Spam") as server:
        with (
            smtplib.SMTP(server.host, server.port, timeout=5) as client,
            pytest.raises(smtplib.SMTPDataError),
        ):
            client.sendmail("app@example.com", ["ops@example.com"], b"Subject: hi\r\n\r\n.")
        [message] = server.wait_for_messages(1)

    assert message.error is None  # the content was taken in and kept
    assert message.subject == "hi"
    assert message.replies[-1] == SMTPReply(".", 554, "5.7.1 Spam")
