"""SMTPServer, driven by real clients: smtplib, logging.handlers.SMTPHandler and raw sockets."""

from __future__ import annotations

import asyncio
import logging
import logging.handlers
import shutil
import smtplib
import socket
import subprocess
import threading
import time
import weakref
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest

import understudy.tls
from gc_tools import cyclic_gc_off, holders
from understudy import ConfigurationError, SMTPMessage, SMTPReply, SMTPServer, WaitTimeout

pytest_plugins = ["pytester"]


def make_email(
    subject: str = "Daily report",
    body: str = "All is well.\n",
    sender: str = "reports@example.com",
    to: str = "team@example.com",
) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = to
    message.set_content(body)
    return message


def connect(server: SMTPServer) -> smtplib.SMTP:
    return smtplib.SMTP(server.host, server.port, local_hostname="client.example", timeout=5)


@pytest.fixture
def server() -> Iterator[SMTPServer]:
    with SMTPServer() as started:
        yield started


# -- raw-socket helpers ------------------------------------------------------------------------


def read_replies(sock: socket.socket) -> list[tuple[int, list[str]]]:
    """Every reply (code, lines) the server sent until it closed the connection."""
    received = b""
    while chunk := sock.recv(4096):
        received += chunk
    replies: list[tuple[int, list[str]]] = []
    lines: list[str] = []
    for line in received.decode().split("\r\n")[:-1]:
        lines.append(line[4:])
        if line[3:4] != "-":
            replies.append((int(line[:3]), lines))
            lines = []
    return replies


def read_reply(sock: socket.socket) -> str:
    """One reply (possibly multi-line) as text, read a byte at a time so nothing more is taken."""
    received = b""
    while True:
        byte = sock.recv(1)
        assert byte, f"connection closed after {received!r}"
        received += byte
        if received.endswith(b"\r\n") and received.rsplit(b"\r\n", 2)[-2][3:4] != b"-":
            return received.decode()


# -- sending with smtplib ----------------------------------------------------------------------


def test_send_message_is_recorded_with_its_envelope(server: SMTPServer) -> None:
    before = time.time()
    with connect(server) as client:
        client.send_message(make_email())
    [message] = server.wait_for_messages(1)
    assert message["Subject"] == "Daily report"
    assert message.subject == "Daily report"
    assert message.text == "All is well.\n"
    assert message.html == ""
    assert message.mail_from == "reports@example.com"
    assert message.rcpt_tos == ["team@example.com"]
    assert message.helo == "client.example"
    assert (message.login, message.password, message.auth_mechanism) == (None, None, None)
    assert message.smtputf8 is False
    assert message.peer is not None
    assert message.peer[0] == "127.0.0.1"
    assert message.received_at >= before
    assert message.data.startswith(b"Subject: Daily report\r\n")
    assert message.data.endswith(b"All is well.\r\n")
    assert message.email.get_content_type() == "text/plain"
    assert "Subject" in message
    assert message.get("X-Missing", "none") == "none"
    assert message.get_all("To") == ["team@example.com"]
    assert any(option.startswith("SIZE=") for option in message.mail_options)
    assert server.messages == [message]


def test_sendmail_to_several_recipients(server: SMTPServer) -> None:
    recipients = ["a@example.com", "b@example.com", "c@example.org"]
    with connect(server) as client:
        refused = client.sendmail("me@example.com", recipients, b"Subject: hi\r\n\r\nhello\r\n")
    assert refused == {}
    [message] = server.wait_for_messages()
    assert message.rcpt_tos == recipients
    assert message.text == "hello\n"


def test_a_bounce_from_the_null_reverse_path_has_an_empty_mail_from(server: SMTPServer) -> None:
    # A delivery status notification is sent with MAIL FROM:<> (RFC 5321 §4.5.5).
    with connect(server) as client:
        client.sendmail("", ["sender@example.com"], b"Subject: Undeliverable\r\n\r\nsorry\r\n")
    [message] = server.wait_for_messages(1)
    assert message.mail_from == ""
    assert message.replies[0] == SMTPReply("MAIL", 250, "OK", "")
    assert message.rcpt_tos == ["sender@example.com"]


def test_several_messages_on_one_connection_and_wait_with_match(server: SMTPServer) -> None:
    with connect(server) as client:
        for n in range(3):
            client.send_message(make_email(subject=f"n{n}"))
    [second] = server.wait_for_messages(1, match=lambda m: m["Subject"] == "n1")
    assert second.subject == "n1"
    assert [m.subject for m in server.wait_for_messages(3)] == ["n0", "n1", "n2"]
    server.clear()
    assert server.messages == []


def test_multipart_message_text_html_and_attachment(server: SMTPServer) -> None:
    email = make_email(body="plain words\n")
    email.add_alternative("<p>html words</p>\n", subtype="html")
    email.add_attachment(b"\x00\x01", maintype="application", subtype="octet-stream", filename="x")
    with connect(server) as client:
        client.send_message(email)
    [message] = server.wait_for_messages()
    assert message.text == "plain words\n"
    assert message.html == "<p>html words</p>\n"
    [attachment] = message.attachments
    assert attachment.get_filename() == "x"
    assert attachment.get_content() == b"\x00\x01"


def test_wait_timeout_says_what_arrived(server: SMTPServer) -> None:
    with connect(server) as client:
        client.send_message(make_email(subject="only one"))
    with pytest.raises(WaitTimeout, match=r"(?s)2 messages.*1 arrived.*only one"):
        server.wait_for_messages(2, timeout=0.05)


# -- AUTH ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("initial_response", [True, False])
@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_auth_plain_and_login(mechanism: str, initial_response: bool) -> None:
    with SMTPServer(auth={"alice": "wonderland"}) as server, connect(server) as client:
        client.user, client.password = "alice", "wonderland"
        client.ehlo()
        assert "PLAIN" in client.esmtp_features["auth"]
        assert "LOGIN" in client.esmtp_features["auth"]
        method = client.auth_plain if mechanism == "PLAIN" else client.auth_login
        code, _ = client.auth(mechanism, method, initial_response_ok=initial_response)
        assert code == 235
        client.send_message(make_email())
        [message] = server.wait_for_messages()
        assert message.login == "alice"
        assert message.password == "wonderland"
        assert message.auth_mechanism == mechanism


def test_wrong_password_gets_535() -> None:
    with SMTPServer(auth={"alice": "wonderland"}) as server, connect(server) as client:
        with pytest.raises(smtplib.SMTPAuthenticationError) as raised:
            client.login("alice", "looking-glass")
        assert raised.value.smtp_code == 535
        client.login("alice", "wonderland")  # the session goes on


def test_auth_callable() -> None:
    seen: list[tuple[str, str]] = []

    def check(login: str, password: str) -> bool:
        seen.append((login, password))
        return password == login[::-1]

    with SMTPServer(auth=check) as server, connect(server) as client:
        with pytest.raises(smtplib.SMTPAuthenticationError):
            client.login("alice", "alice")  # smtplib tries LOGIN, then PLAIN
        client.login("alice", "ecila")
        client.send_message(make_email())
        assert server.wait_for_messages()[0].login == "alice"
    assert set(seen) == {("alice", "alice"), ("alice", "ecila")}


def test_auth_callable_that_raises_gets_454_and_reaches_check() -> None:
    def check(login: str, password: str) -> bool:
        raise LookupError("no directory")

    with (  # noqa: PT012 - leaving the server's block raises
        pytest.raises(LookupError, match="no directory"),
        SMTPServer(auth=check) as server,
        connect(server) as client,
    ):
        client.user, client.password = "bob", "x"
        client.ehlo()
        with pytest.raises(smtplib.SMTPAuthenticationError) as raised:
            client.auth("PLAIN", client.auth_plain)
        assert raised.value.smtp_code == 454


def test_auth_required_refuses_mail_before_auth() -> None:
    with SMTPServer(auth={"u": "p"}, auth_required=True) as server, connect(server) as client:
        with pytest.raises(smtplib.SMTPSenderRefused) as raised:
            client.send_message(make_email())
        assert raised.value.smtp_code == 530
        client.login("u", "p")
        client.send_message(make_email())
    assert len(server.wait_for_messages()) == 1


def test_auth_is_not_offered_without_credentials(server: SMTPServer) -> None:
    with connect(server) as client:
        client.ehlo()
        assert not client.has_extn("auth")
        with pytest.raises(smtplib.SMTPNotSupportedError):
            client.login("u", "p")
        code, text = client.docmd("AUTH", "PLAIN AHUAcA==")
        assert code == 502
        assert b"auth=" in text


# -- SMTPUTF8 ------------------------------------------------------------------------------------


def test_smtputf8_address_and_body() -> None:
    email = make_email(subject="Grüße ☃", body="Héllo wörld ☃\n", sender="jörg@exämple.org")
    email.replace_header("To", "zoë@example.com")
    with SMTPServer(smtputf8=True) as server, connect(server) as client:
        client.send_message(email)
    [message] = server.wait_for_messages()
    assert message.smtputf8 is True
    assert message.mail_from == "jörg@exämple.org"
    assert message.rcpt_tos == ["zoë@example.com"]
    assert message["Subject"] == "Grüße ☃"
    assert message.text == "Héllo wörld ☃\n"
    assert "SMTPUTF8" in message.mail_options


def test_without_smtputf8_a_utf8_address_is_not_sent(server: SMTPServer) -> None:
    with connect(server) as client, pytest.raises(smtplib.SMTPNotSupportedError):
        client.send_message(make_email(sender="jörg@exämple.org"))
    assert server.messages == []


# -- reject rules --------------------------------------------------------------------------------


def test_rejected_recipient_gets_550() -> None:
    with SMTPServer(reject={"bad@example.com": 550}) as server, connect(server) as client:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as raised:
            client.sendmail("me@example.com", ["bad@example.com"], b"Subject: x\r\n\r\nx\r\n")
        [(code, text)] = raised.value.recipients.values()
        assert code == 550
        assert text.startswith(b"5.1.1")
        refused = client.sendmail(
            "me@example.com", ["BAD@example.com", "good@example.com"], b"Subject: y\r\n\r\ny\r\n"
        )
        assert refused == {"BAD@example.com": (550, text)}
    [message] = server.wait_for_messages()
    assert message.rcpt_tos == ["good@example.com"]


def test_452_once_then_accept_for_a_retrying_client() -> None:
    with SMTPServer(reject={"busy@example.com": (452, 1)}) as server, connect(server) as client:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as raised:
            client.sendmail("me@example.com", ["busy@example.com"], b"Subject: try\r\n\r\n1\r\n")
        assert [code for code, _ in raised.value.recipients.values()] == [452]
        for n in (b"2", b"3"):
            refused = client.sendmail("me@example.com", ["busy@example.com"], b"\r\n" + n)
            assert refused == {}
    assert [m.text for m in server.wait_for_messages(2)] == ["2\n", "3\n"]


def test_sender_domain_and_wildcard_rules() -> None:
    reject: dict[str, Any] = {
        "from:spammer@example.com": "554 5.7.1 Go away",
        "@blocked.example": 550,
        "*": (451, 1),
        "vip@example.com": (550, 0 + 1),
    }
    with SMTPServer(reject=reject) as server, connect(server) as client:
        with pytest.raises(smtplib.SMTPSenderRefused) as sender_refused:
            client.sendmail("Spammer@Example.com", ["a@example.com"], b"\r\nx\r\n")
        assert sender_refused.value.smtp_code == 554
        assert sender_refused.value.smtp_error == b"5.7.1 Go away"
        client.rset()
        refused = client.sendmail(
            "me@example.com", ["x@blocked.example", "a@example.com", "b@example.com"], b"\r\nx\r\n"
        )
        # The first recipient not named by any rule takes the one wildcard 451; then accepted.
        assert {address: code for address, (code, _) in refused.items()} == {
            "x@blocked.example": 550,
            "a@example.com": 451,
        }
    [message] = server.wait_for_messages()
    assert message.rcpt_tos == ["b@example.com"]


@pytest.mark.parametrize(
    "reject",
    [
        {"a@example.com": 250},
        {"a@example.com": 354},
        {"a@example.com": 600},
        {"a@example.com": "no code"},
        {"a@example.com": (452, 0)},
        {"a@example.com": (452, 1, 2)},
        {"": 550},
        {"from:": 550},
        ["a@example.com"],
    ],
)
def test_bad_reject_rules_are_refused_at_construction(reject: Any) -> None:
    with pytest.raises(ConfigurationError, match="reject="):
        SMTPServer(reject=reject)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"auth_required": True}, "auth_required"),
        ({"auth": {"u": 1}}, "auth="),
        ({"auth": "u:p"}, "auth="),
        ({"max_message_size": 0}, "max_message_size"),
        ({"handler": "reply"}, "handler="),
        ({"hostname": "two words"}, "hostname"),
    ],
)
def test_bad_options_are_refused_at_construction(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        SMTPServer(**options)


# -- size limit ----------------------------------------------------------------------------------


def test_message_over_the_size_limit_gets_552() -> None:
    big = b"Subject: big\r\n\r\n" + b"x" * 70 + b"\r\n"
    with SMTPServer(max_message_size=50) as server, connect(server) as client:
        client.ehlo()
        assert client.esmtp_features["size"] == "50"
        with pytest.raises(smtplib.SMTPSenderRefused) as raised:  # SIZE= said so at MAIL
            client.sendmail("me@example.com", ["you@example.com"], big)
        assert raised.value.smtp_code == 552
        # A client that does not declare the size is refused at the end of DATA.
        client.rset()
        client.mail("me@example.com")
        client.rcpt("you@example.com")
        code, _ = client.data(big)
        assert code == 552
        assert client.sendmail("me@example.com", ["you@example.com"], b"\r\nsmall\r\n") == {}
    refused, small = server.wait_for_messages(2)
    # The content refused at the end of DATA is recorded with the reply, without its bytes.
    assert refused.error is not None
    assert refused.error.startswith("552 ")
    assert (refused.mail_from, refused.rcpt_tos, refused.data) == (
        "me@example.com",
        ["you@example.com"],
        b"",
    )
    assert "refused" in repr(refused)
    assert (small.error, small.text) == (None, "small\n")
    assert len(server.messages) == 2


def test_a_line_over_1000_octets_in_data_gets_500_and_is_recorded() -> None:
    with SMTPServer() as server, connect(server) as client:
        client.ehlo()
        client.mail("me@example.com")
        client.rcpt("you@example.com")
        code, _ = client.data(b"Subject: long\r\n\r\n" + b"y" * 1200 + b"\r\n")
        assert code == 500
        [refused] = server.wait_for_messages(1)
    assert refused.error is not None
    assert refused.error.startswith("500 Line too long")


# -- handler -------------------------------------------------------------------------------------


def test_handler_sees_each_message_and_chooses_the_reply() -> None:
    def handler(message: SMTPMessage) -> str | int | None:
        if "spam" in message.text:
            return "554 5.7.1 No thanks"
        if message.subject == "later":
            return 451
        return None

    with SMTPServer(handler=handler) as server, connect(server) as client:
        client.send_message(make_email(body="ham\n"))
        with pytest.raises(smtplib.SMTPDataError) as raised:
            client.send_message(make_email(body="spam\n"))
        assert (raised.value.smtp_code, raised.value.smtp_error) == (554, b"5.7.1 No thanks")
        with pytest.raises(smtplib.SMTPDataError) as later:
            client.send_message(make_email(subject="later"))
        assert later.value.smtp_code == 451
    # Refused by the handler or not, every message that arrived is recorded.
    assert [m.text for m in server.wait_for_messages(3)] == ["ham\n", "spam\n", "All is well.\n"]


def test_async_handler_runs_on_the_loop() -> None:
    threads: list[str] = []

    async def handler(message: SMTPMessage) -> str:
        threads.append(threading.current_thread().name)
        await asyncio.sleep(0)
        return "250 2.0.0 Queued as 42"

    with SMTPServer(handler=handler) as server, connect(server) as client:
        client.send_message(make_email())
        code, _ = client.noop()
        assert code == 250
    assert threads == ["understudy-loop"]
    assert len(server.messages) == 1


def test_sync_handler_runs_in_the_worker_pool() -> None:
    threads: list[str] = []

    def handler(message: SMTPMessage) -> None:
        threads.append(threading.current_thread().name)

    with SMTPServer(handler=handler) as server, connect(server) as client:
        client.send_message(make_email())
    assert threads[0].startswith("understudy-worker")


def test_handler_exception_gets_451_and_is_reraised() -> None:
    def handler(message: SMTPMessage) -> None:
        raise ValueError(f"cannot deliver {message.subject}")

    with (  # noqa: PT012 - leaving the server's block raises
        pytest.raises(ValueError, match="cannot deliver Daily report"),
        SMTPServer(handler=handler) as server,
        connect(server) as client,
    ):
        with pytest.raises(smtplib.SMTPDataError) as raised:
            client.send_message(make_email())
        assert raised.value.smtp_code == 451
        assert b"ValueError" in raised.value.smtp_error
        assert client.noop()[0] == 250  # the session survives
    assert len(server.messages) == 1


def test_handler_with_a_bad_return_value_is_reported() -> None:
    with SMTPServer(handler=lambda message: "OK") as server, connect(server) as client:
        with pytest.raises(smtplib.SMTPDataError) as raised:
            client.send_message(make_email())
        assert raised.value.smtp_code == 451
        with pytest.raises(TypeError, match="reply line"):
            server.check()


def test_stop_waits_for_a_running_handler_then_says_goodbye() -> None:
    started, release = threading.Event(), threading.Event()

    def handler(message: SMTPMessage) -> None:
        started.set()
        release.wait(5)

    server = SMTPServer(handler=handler).start()
    with socket.create_connection(server.address, timeout=5) as sock:
        sock.sendall(
            b"HELO c\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n"
            b"Subject: slow\r\n\r\nx\r\n.\r\n"
        )
        assert started.wait(5)
        stopper = threading.Thread(target=server.stop)
        stopper.start()
        release.set()
        stopper.join(10)
        assert not stopper.is_alive()
        assert [code for code, _ in read_replies(sock)] == [220, 250, 250, 250, 354, 250, 421]


def test_stop_reports_a_handler_still_running_at_its_timeout() -> None:
    started, release = threading.Event(), threading.Event()

    def stuck_handler(message: SMTPMessage) -> None:
        started.set()
        release.wait(5)

    server = SMTPServer(handler=stuck_handler).start()
    try:
        with socket.create_connection(server.address, timeout=5) as sock:
            sock.sendall(
                b"HELO c\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n"
                b"Subject: stuck\r\n\r\nx\r\n.\r\n"
            )
            assert started.wait(5)
            with pytest.raises(WaitTimeout, match=r"stuck_handler for the message from <a@"):
                server.stop(timeout=0.05)
            assert read_replies(sock)[-1][0] == 354  # then the connection was dropped
    finally:
        release.set()
    assert not server.running


# -- logging.handlers.SMTPHandler ----------------------------------------------------------------


def test_logging_smtp_handler(server: SMTPServer) -> None:
    handler = logging.handlers.SMTPHandler(
        mailhost=server.address,
        fromaddr="app@example.com",
        toaddrs=["ops@example.com", "dev@example.com"],
        subject="Application error",
        timeout=5.0,
    )
    logger = logging.getLogger(f"test_smtp.{id(server)}")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        logger.error("disk %s is full", "/var")
    finally:
        logger.removeHandler(handler)
        handler.close()
    [message] = server.wait_for_messages()
    assert message.mail_from == "app@example.com"
    assert message.rcpt_tos == ["ops@example.com", "dev@example.com"]
    assert message["Subject"] == "Application error"
    assert [address.addr_spec for address in message["To"].addresses] == message.rcpt_tos
    assert message.text.strip() == "disk /var is full"


def test_logging_smtp_handler_with_credentials() -> None:
    with SMTPServer(auth={"app": "s3cret"}, auth_required=True) as server:
        handler = logging.handlers.SMTPHandler(
            mailhost=server.address,
            fromaddr="app@example.com",
            toaddrs="ops@example.com",
            subject="Alert",
            credentials=("app", "s3cret"),
            timeout=5.0,
        )
        record = logging.makeLogRecord({"msg": "up again", "levelno": logging.INFO})
        handler.emit(record)
        handler.close()
        [message] = server.wait_for_messages()
    assert message.login == "app"
    assert message.text.strip() == "up again"


def test_aiosmtpd_logging_on_the_loop_never_reaches_an_smtp_handler(server: SMTPServer) -> None:
    # A root SMTPHandler would otherwise mail aiosmtpd's own log records from the server's loop
    # to that very server: a deadlock.
    emitted: list[logging.LogRecord] = []

    class Recorder(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            emitted.append(record)

    recorder = Recorder(logging.DEBUG)
    mail_log = logging.getLogger("mail.log")
    old_level = mail_log.level
    mail_log.setLevel(logging.DEBUG)
    mail_log.addHandler(recorder)
    try:
        with SMTPServer(auth={"u": "p"}) as authed, connect(authed) as client:
            client.login("u", "p")
            client.send_message(make_email())
    finally:
        mail_log.removeHandler(recorder)
        mail_log.setLevel(old_level)
    assert [r.getMessage() for r in emitted if r.threadName == "understudy-loop"] == []


# -- raw sockets ---------------------------------------------------------------------------------


def test_whole_dialogue_one_byte_at_a_time(server: SMTPServer) -> None:
    dialogue = (
        b"EHLO slow.example\r\n"
        b"MAIL FROM:<slow@example.com>\r\n"
        b"RCPT TO:<a@example.com>\r\n"
        b"RCPT TO:<b@example.com>\r\n"
        b"DATA\r\n"
        b"Subject: trickle\r\n"
        b"\r\n"
        b"line one\r\n"
        b"..a line that began with a dot\r\n"
        b".\r\n"
        b"QUIT\r\n"
    )
    with socket.create_connection(server.address, timeout=5) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for byte in dialogue:
            sock.sendall(bytes([byte]))
        replies = read_replies(sock)
    assert [code for code, _ in replies] == [220, 250, 250, 250, 250, 354, 250, 221]
    greeting = replies[0][1][0]
    assert greeting.startswith("understudy.localhost ")
    assert "8BITMIME" in replies[1][1]
    [message] = server.wait_for_messages()
    assert message.helo == "slow.example"
    assert message.rcpt_tos == ["a@example.com", "b@example.com"]
    assert message.data == b"Subject: trickle\r\n\r\nline one\r\n.a line that began with a dot\r\n"
    assert message.text == "line one\n.a line that began with a dot\n"


def test_content_that_is_not_an_email_is_still_recorded(server: SMTPServer) -> None:
    garbage = b"\xff\xfe not a header at all\r\n\x00\x01 binary\r\nContent-Type: text/plain; cha"
    with connect(server) as client:
        client.sendmail("a@example.com", ["b@example.com"], garbage + b"\r\n")
        client.sendmail(
            "a@example.com",
            ["b@example.com"],
            b"Subject: =?bogus-charset?q?x?=\r\nContent-Type: text/plain; charset=bogus\r\n\r\n"
            b"caf\xe9\r\n",
        )
    first, second = server.wait_for_messages(2)
    assert first.data == garbage + b"\r\n"
    assert first["Subject"] is None
    assert first.email.defects
    assert "binary" in first.text
    assert "SMTPMessage" in repr(first)
    assert second.text == "caf\ufffd\n"
    assert "subject 'x'" in repr(second)


def test_commands_out_of_order_get_the_rfc_replies(server: SMTPServer) -> None:
    with socket.create_connection(server.address, timeout=5) as sock:
        sock.sendall(b"MAIL FROM:<a@example.com>\r\nHELO c\r\nDATA\r\nBOGUS\r\nQUIT\r\n")
        codes = [code for code, _ in read_replies(sock)]
    assert codes == [220, 503, 250, 503, 500, 221]
    assert server.messages == []


def test_malformed_commands_are_answered_and_record_no_error() -> None:
    with SMTPServer(auth={"a": "b"}) as server:
        with socket.create_connection(server.address, timeout=5) as sock:
            sock.sendall(
                b"EHLO c\r\n"
                b"MAIL FROM:<j\xc3\xb6rg@example.com>\r\n"  # UTF-8 without SMTPUTF8
                b"NOOP " + b"x" * 2000 + b"\r\n"  # longer than RFC 5321 §4.5.3.1.4 allows
                b"AUTH PLAIN !!!\r\n"  # not base64
                b"AUTH LOGIN\r\n*\r\n"  # the client cancels (RFC 4954 §4)
                b"MAIL FROM:<a@example.com> SIZE=abc\r\n"
                b"MAIL FROM:<a@example.com> FOO=1\r\n"
                b"\x00\x01\r\n"
                b"QUIT\r\n"
            )
            codes = [code for code, _ in read_replies(sock)]
        server.check()  # nothing was recorded as an error
    assert codes == [220, 250, 500, 500, 501, 334, 501, 501, 555, 500, 221]


# -- lifecycle -----------------------------------------------------------------------------------


def test_start_stop_restart() -> None:
    server = SMTPServer()
    assert "not started" in repr(server)
    server.start()
    assert server.start() is server  # idempotent
    first_port = server.port
    assert server.address == ("127.0.0.1", first_port)
    with connect(server) as client:
        client.send_message(make_email(subject="first"))
    server.wait_for_messages()
    server.stop()
    server.stop()  # idempotent
    assert not server.running
    assert "stopped" in repr(server)
    with pytest.raises(OSError):  # noqa: PT011 - refused; the exact errno varies
        socket.create_connection(("127.0.0.1", first_port), timeout=5).close()
    with server:
        with connect(server) as client:
            client.send_message(make_email(subject="second"))
        assert [m.subject for m in server.wait_for_messages(2)] == ["first", "second"]


def test_stop_with_an_idle_client_says_421_and_closes() -> None:
    server = SMTPServer().start()
    with socket.create_connection(server.address, timeout=5) as sock:
        assert read_reply(sock).startswith("220 ")
        sock.sendall(b"EHLO idle.example\r\n")
        assert read_reply(sock).endswith("250 HELP\r\n")
        server.stop()
        assert read_replies(sock) == [(421, ["4.3.2 Service shutting down"])]
    assert server._site.connections == set()  # (the sessions open now: none)


def test_stop_with_an_idle_smtplib_client() -> None:
    server = SMTPServer().start()
    client = connect(server)
    try:
        client.noop()
        server.stop()
        assert client.noop()[0] == 421  # smtplib closes its side on 421
        with pytest.raises(smtplib.SMTPServerDisconnected):
            client.noop()
    finally:
        client.close()


def test_reprs(server: SMTPServer) -> None:
    assert repr(server) == f"<understudy.SMTPServer 127.0.0.1:{server.port} running>"
    message = SMTPMessage(
        b"Subject: Hello\r\n\r\nbody\r\n", mail_from="a@example.com", rcpt_tos=["b@example.com"]
    )
    assert repr(message) == (
        "<understudy.SMTPMessage from 'a@example.com' to ['b@example.com'] "
        "subject 'Hello' (24 bytes)>"
    )


def test_message_is_immutable() -> None:
    message = SMTPMessage(b"\r\nx\r\n", mail_from="a@example.com", rcpt_tos=["b@example.com"])
    with pytest.raises(AttributeError, match="immutable"):
        message.mail_from = "c@example.com"
    message.rcpt_tos.append("c@example.com")
    assert message.rcpt_tos == ["b@example.com"]
    assert message == SMTPMessage(
        b"\r\nx\r\n", mail_from="a@example.com", rcpt_tos=["b@example.com"]
    )


def test_journal_size_keeps_the_last_messages() -> None:
    with SMTPServer(journal_size=2) as server, connect(server) as client:
        for n in range(3):
            client.send_message(make_email(subject=str(n)))
        client.noop()
        assert [m.subject for m in server.messages] == ["1", "2"]


@pytest.mark.asyncio
async def test_async_with_and_async_wait() -> None:
    async with SMTPServer() as server:

        def send() -> None:
            with connect(server) as client:
                client.send_message(make_email(subject="async"))

        sending = asyncio.create_task(asyncio.to_thread(send))
        [message] = await server.wait_for_messages_async(1)
        await sending
        assert message.subject == "async"


# -- fixtures ------------------------------------------------------------------------------------


def test_smtp_server_fixture(smtp_server: SMTPServer) -> None:
    assert smtp_server.running
    with connect(smtp_server) as client:
        client.send_message(make_email())
    [message] = smtp_server.wait_for_messages(1)
    assert message["Subject"] == "Daily report"


def test_make_smtp_server_fixture(make_smtp_server: Any) -> None:
    first = make_smtp_server(auth={"u": "p"}, auth_required=True)
    second = make_smtp_server()
    assert first.port != second.port
    with connect(first) as client:
        client.login("u", "p")
        client.send_message(make_email())
    assert first.wait_for_messages()[0].login == "u"
    assert second.messages == []


@pytest.mark.understudy(hostname="marked.example")
def test_marker_options_reach_the_fixture(smtp_server: SMTPServer) -> None:
    with connect(smtp_server) as client:
        assert client.ehlo()[1].startswith(b"marked.example")


def test_a_handler_exception_fails_the_test_using_the_fixture(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makeconftest(
        """
        import pytest

        def refuse_reports(message):
            assert "report" not in message["Subject"], "reports must not be mailed"

        @pytest.fixture
        def smtp_server_options():
            return {"handler": refuse_reports}
        """
    )
    pytester.makepyfile(
        """
        import smtplib

        def test_mailer(smtp_server):
            with smtplib.SMTP(smtp_server.host, smtp_server.port, timeout=5) as client:
                try:
                    client.sendmail("a@x", ["b@x"], b"Subject: a report\\r\\n\\r\\n")
                except smtplib.SMTPDataError as error:
                    assert error.smtp_code == 451

        def test_quiet(smtp_server):
            assert smtp_server.messages == []
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(["*AssertionError: reports must not be mailed*"])


@pytest.mark.parametrize("starttls", [False, True], ids=["plain", "starttls"])
def test_a_stopped_smtp_server_the_test_drops_is_freed_at_once(starttls: bool) -> None:
    """No reference cycle holds a stopped server (its hooks and sessions reach it through a
    proxy): its journal goes as soon as the test lets go of it."""
    server = SMTPServer(starttls=starttls)
    server.start()
    with smtplib.SMTP(server.host, server.port, timeout=5) as client:
        if starttls:
            client.starttls(context=understudy.tls.client_context())
        client.sendmail("a@example.com", ["b@example.com"], b"Subject: x\r\n\r\nhi")
    server.wait_for_messages(1)
    server.stop()
    with cyclic_gc_off():
        freed = weakref.ref(server)
        del server
        assert freed() is None, holders(freed)


# -- STARTTLS, AUTH and command syntax (issue 19: items 11 and 16) -------------------------------


def test_starttls_inside_tls_is_refused_with_503_and_the_session_goes_on() -> None:
    # RFC 3207 §4.2: TLS is not started twice. Before: 220, then asyncio failed to nest TLS
    # ("SSLProtocol._abort() takes 1 positional argument") and check() raised TLSSetupException.
    with SMTPServer(starttls=True) as server:
        with smtplib.SMTP(server.host, server.port, timeout=5) as client:
            client.starttls(context=understudy.tls.client_context())
            code, text = client.docmd("STARTTLS")
            assert (code, text[:5]) == (503, b"5.5.1")
            assert client.noop()[0] == 250
            client.sendmail("a@example.com", ["b@example.com"], b"Subject: x\r\n\r\nbody\r\n")
        server.wait_for_messages(1)
        server.check()


def test_starttls_inside_implicit_tls_is_refused_with_503() -> None:
    with SMTPServer(tls=True) as server:
        context = understudy.tls.client_context()
        with smtplib.SMTP_SSL(server.host, server.port, timeout=5, context=context) as client:
            assert client.ehlo()[0] == 250
            assert client.docmd("STARTTLS")[0] == 503
            assert client.noop()[0] == 250
        server.check()


@pytest.mark.parametrize(
    ("command", "argument"),
    [
        ("EHLO", "x\x00y"),
        ("HELO", "x\x00y"),
        ("MAIL", "FROM:<a\x00b@example.com>"),
        ("RCPT", "TO:<b\x7f@example.com>"),
        ("NOOP", "\x1b[31m"),
        ("VRFY", "a\x00"),
    ],
    ids=["ehlo-nul", "helo-nul", "mail-nul", "rcpt-del", "noop-esc", "vrfy-nul"],
)
def test_a_control_character_in_a_command_argument_gets_501(command: str, argument: str) -> None:
    with SMTPServer() as server:
        with smtplib.SMTP(server.host, server.port, timeout=5) as client:
            if command not in ("EHLO", "HELO"):
                client.ehlo()
            if command == "RCPT":
                client.mail("a@example.com")
            client.putcmd(command, argument)
            code, text = client.getreply()
            assert (code, text[:5]) == (501, b"5.5.2")
            assert client.ehlo("client.example")[0] == 250  # the session goes on
        server.check()


def test_a_bare_cr_inside_a_command_line_gets_501() -> None:
    # (smtplib refuses to send it: a raw socket does.)
    with SMTPServer() as server, socket.create_connection(server.address, timeout=5) as sock:
        reader = sock.makefile("rb")
        assert reader.readline().startswith(b"220 ")
        sock.sendall(b"EHLO x\ry\r\n")
        assert reader.readline().startswith(b"501 5.5.2 ")
        reader.close()


def test_a_horizontal_tab_in_an_argument_is_let_through() -> None:
    with SMTPServer() as server, smtplib.SMTP(server.host, server.port, timeout=5) as client:
        client.putcmd("NOOP", "a\tb")
        assert client.getreply()[0] == 250


def test_auth_is_not_advertised_after_starttls_when_no_auth_is_configured() -> None:
    with (
        SMTPServer(starttls=True) as server,
        smtplib.SMTP(server.host, server.port, timeout=5) as client,
    ):
        client.starttls(context=understudy.tls.client_context())
        client.ehlo()
        # Before: "auth": "LOGIN PLAIN" here, and AUTH answered 502.
        assert not client.has_extn("auth")
        assert client.has_extn("size")


def test_auth_is_advertised_after_starttls_when_configured_and_works() -> None:
    with SMTPServer(starttls=True, auth={"alice": "secret"}) as server:
        with smtplib.SMTP(server.host, server.port, timeout=5) as client:
            client.starttls(context=understudy.tls.client_context())
            client.ehlo()
            assert client.has_extn("auth")
            client.login("alice", "secret")
            client.sendmail("a@example.com", ["b@example.com"], b"Subject: x\r\n\r\nbody\r\n")
        [message] = server.wait_for_messages(1)
    assert message.login == "alice"


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs the curl command")
def test_curl_with_user_over_starttls_sends_when_no_auth_is_configured() -> None:
    # Before: curl saw AUTH advertised, tried it, got 502 and exited with 67.
    with SMTPServer(starttls=True) as server:
        command = ["curl", "-sS", f"smtp://127.0.0.1:{server.port}", "--ssl-reqd"]
        command += ["--cacert", understudy.tls.ca_bundle(), "--user", "a:b"]
        command += ["--mail-from", "a@example.com", "--mail-rcpt", "b@example.com", "-T", "-"]
        done = subprocess.run(
            command,
            input=b"Subject: hi\r\n\r\nbody\r\n",
            capture_output=True,
            timeout=10,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        [message] = server.wait_for_messages(1)
    assert message["Subject"] == "hi"
    assert message.tls is not None
