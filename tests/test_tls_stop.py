"""stop() on servers given tls=: a handshake in progress is closed at once; what a server was still
sending is delivered within stop()'s timeout (plain or TLS alike), then cut; and no socket of the
server is open once stop() returns.

asyncio hands a TLS connection to its protocol only after the handshake, so stop() used to leave a
client stuck mid-handshake connected until asyncio's 60 s handshake timeout. And asyncio's TLS
transport, once closed, waits for the client's close_notify, and closed twice no longer aborts:
a transfer went on after stop() returned, its socket open.
"""

from __future__ import annotations

import http.client
import os
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import understudy.tls
from understudy import (
    TLS,
    HTTPServer,
    Response,
    Server,
    SMTPServer,
    SyslogServer,
    TCPServer,
)

pytestmark = pytest.mark.skipif(
    not os.path.isdir("/proc/self/fd"), reason="counts the process's sockets in /proc/self/fd"
)

TIMEOUT = 5.0
#: Far more than the socket buffers of both ends hold while the client reads nothing, so that
#: the transfer is still going on when stop() is called.
BIG = 16 * 1024 * 1024
BODY = bytes(range(256)) * (BIG // 256)

TLS_KINDS: dict[str, Callable[[], Server]] = {
    "https": lambda: HTTPServer(response=Response(200, body="ok"), tls=True),
    "smtps": lambda: SMTPServer(tls=True),
    "tcp over tls": lambda: TCPServer(tls=True),
    "syslog over tls": lambda: SyslogServer(transport="tcp", tls=True),
}


@pytest.fixture
def clients() -> Iterator[list[socket.socket]]:
    opened: list[socket.socket] = []
    yield opened
    for sock in opened:
        sock.close()


def open_sockets() -> set[str]:
    """The process's open sockets, by kernel identity (``socket:[inode]``)."""
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            link = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # the fd that listed the directory, closed since
            continue
        if link.startswith("socket:"):
            found.add(link)
    return found


def sockets_of(*clients: socket.socket) -> set[str]:
    return {os.readlink(f"/proc/self/fd/{sock.fileno()}") for sock in clients}


def connect(server: Server, clients: list[socket.socket]) -> socket.socket:
    sock = socket.create_connection(server.address, TIMEOUT)
    clients.append(sock)
    return sock


def start_handshake(server: Server, clients: list[socket.socket]) -> socket.socket:
    """A client that sends its ClientHello, reads the server's first flight, then goes quiet."""
    sock = connect(server, clients)
    outgoing = ssl.MemoryBIO()
    tls = understudy.tls.client_context().wrap_bio(
        ssl.MemoryBIO(), outgoing, server_hostname="127.0.0.1"
    )
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    sock.sendall(outgoing.read())
    assert sock.recv(65536)  # the ServerHello: the server is in the handshake, awaiting ours
    return sock


def ended(sock: socket.socket) -> bool:
    """Whether the server ended the connection (EOF or reset) within TIMEOUT."""
    try:
        while sock.recv(65536):
            pass
    except (ConnectionResetError, ssl.SSLError):
        return True
    except TimeoutError:
        return False
    return True


def read_rest(sock: socket.socket, received: bytes) -> bytes:
    """``received`` and what else comes until EOF or a reset."""
    chunks = [received]
    try:
        while chunk := sock.recv(1024 * 1024):
            chunks.append(chunk)
    except (ConnectionResetError, ssl.SSLError):
        pass
    return b"".join(chunks)


class StopInThread:
    """``server.stop(timeout)`` called from another thread, while the test reads on."""

    def __init__(self, server: Server, timeout: float = TIMEOUT) -> None:
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._stop, args=(server, timeout))
        self.thread.start()

    def _stop(self, server: Server, timeout: float) -> None:
        try:
            server.stop(timeout)
        except BaseException as error:  # re-raised by join()
            self.error = error

    def join(self) -> None:
        self.thread.join(TIMEOUT * 2)
        assert not self.thread.is_alive(), "stop() did not return"
        if self.error is not None:
            raise self.error


# -- handshakes in progress ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(TLS_KINDS))
def test_stop_closes_connections_still_in_their_handshake(
    kind: str, clients: list[socket.socket]
) -> None:
    server = TLS_KINDS[kind]().start()
    try:
        before = open_sockets()
        silent = connect(server, clients)  # sends nothing at all
        half = connect(server, clients)
        half.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")  # half a ClientHello
        # Accepted after those two, so once it is in its handshake, they are too.
        stuck = start_handshake(server, clients)
    finally:
        server.stop()
    assert open_sockets() - before == sockets_of(*clients)
    assert [ended(silent), ended(half), ended(stuck)] == [True, True, True]


def test_a_client_that_does_not_finish_its_handshake_is_dropped_at_the_timeout(
    clients: list[socket.socket],
) -> None:
    with TCPServer(tls=TLS(handshake_timeout=0.1)) as server:
        assert ended(start_handshake(server, clients))  # not after TIMEOUT, nor asyncio's 60 s
        assert ended(connect(server, clients))
        # The server serves on: a client that does handshake is heard.
        context = understudy.tls.client_context()
        with context.wrap_socket(connect(server, clients), server_hostname="127.0.0.1") as tls:
            tls.sendall(b"hello")
            server.wait_for_bytes(b"hello")


# -- what was being sent ------------------------------------------------------------------------


async def send_big(reader: object, writer: Any) -> None:
    writer.write(BODY)


def tcp_reader(server: TCPServer, clients: list[socket.socket], *, tls: bool) -> socket.socket:
    sock = connect(server, clients)
    if tls:
        sock = understudy.tls.client_context().wrap_socket(sock, server_hostname="127.0.0.1")
        clients.append(sock)
    return sock


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
def test_stop_lets_a_reader_take_the_rest_of_what_was_sent(
    tls: bool, clients: list[socket.socket]
) -> None:
    server = TCPServer(handler=send_big, tls=tls).start()
    before = open_sockets()
    reader = tcp_reader(server, clients, tls=tls)
    received = reader.recv(65536)  # the handler has written: the transfer is going on
    stopping = StopInThread(server)
    received = read_rest(reader, received)
    stopping.join()
    assert len(received) == BIG
    assert received == BODY
    # The client still holds its socket; the server's was closed by stop().
    assert open_sockets() - before == sockets_of(reader)


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
def test_stop_cuts_a_transfer_to_a_reader_that_stalls_at_its_timeout(
    tls: bool, clients: list[socket.socket]
) -> None:
    server = TCPServer(handler=send_big, tls=tls).start()
    before = open_sockets()
    reader = tcp_reader(server, clients, tls=tls)
    received = reader.recv(65536)
    server.stop(timeout=0.1)  # the reader reads nothing meanwhile
    assert open_sockets() - before == sockets_of(reader)
    # What the kernel had taken arrives, then the end: not the whole.
    assert len(read_rest(reader, received)) < BIG


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
def test_stop_does_not_wait_out_its_timeout_for_a_reader_that_stopped_reading(
    tls: bool, clients: list[socket.socket]
) -> None:
    server = TCPServer(handler=send_big, tls=tls).start()
    before = open_sockets()
    reader = tcp_reader(server, clients, tls=tls)
    received = reader.recv(65536)  # then nothing more while stop() runs
    # A timeout far longer than the join's: stop() returns only because the reader is cut off
    # as one that stopped reading, not because the timeout ran out.
    stopping = StopInThread(server, timeout=600.0)
    stopping.join()
    assert open_sockets() - before == sockets_of(reader)
    assert len(read_rest(reader, received)) < BIG


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_stop_delivers_a_response_being_sent_to_a_slow_reader(tls: bool) -> None:
    server = HTTPServer(response=Response(200, body=BODY), tls=tls).start()
    before = open_sockets()
    if tls:
        connection: http.client.HTTPConnection = http.client.HTTPSConnection(
            *server.address, timeout=TIMEOUT, context=understudy.tls.client_context()
        )
    else:
        connection = http.client.HTTPConnection(*server.address, timeout=TIMEOUT)
    try:
        connection.request("GET", "/big")
        reply = connection.getresponse()
        sock = connection.sock
        assert sock is not None
        client = sockets_of(sock)
        body = reply.read(65536)  # the response is being sent
        stopping = StopInThread(server)
        while chunk := reply.read(1024 * 1024):
            body += chunk
        stopping.join()
        assert body == BODY
        assert open_sockets() - before == client
        assert ended(sock)
    finally:
        connection.close()


def test_smtps_stop_says_goodbye_and_closes() -> None:
    server = SMTPServer(tls=True).start()
    before = open_sockets()
    client = smtplib.SMTP_SSL(
        *server.address, context=understudy.tls.client_context(), timeout=TIMEOUT
    )
    try:
        assert client.ehlo()[0] == 250
        assert client.sock is not None
        own = sockets_of(client.sock)
        server.stop()
        assert open_sockets() - before == own
        assert client.getreply()[0] == 421  # RFC 5321 §3.8
    finally:
        client.close()


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_stop_delivers_the_rest_to_a_client_reading_steadily_at_a_few_mb_per_s(tls: bool) -> None:
    """A client reading steadily (about 1.6 MB/s, paced, never stopping) gets the whole body."""
    server = HTTPServer(response=Response(200, body=BODY), tls=tls).start()
    try:
        sock: socket.socket = socket.create_connection(server.address, TIMEOUT)
        if tls:
            sock = understudy.tls.client_context().wrap_socket(sock, server_hostname="127.0.0.1")
        sock.sendall(b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n")
        received = sock.recv(65536)  # the response is being sent
        head, _, body = received.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 ")
        errors: list[BaseException] = []
        stopping = threading.Thread(target=lambda: _stop_collecting(server, errors))
        stopping.start()
        try:
            # Pacing, not synchronisation: a reader that keeps reading, slower than loopback.
            while len(body) < 1024 * 1024:
                chunk = sock.recv(16384)
                if not chunk:
                    break
                body += chunk
                time.sleep(0.01)  # sleep-ok: paces a client reading slowly, waits for nothing
            while len(body) < BIG and (chunk := sock.recv(1024 * 1024)):
                body += chunk
        except ConnectionResetError:
            pass
        finally:
            stopping.join(TIMEOUT * 2)
            sock.close()
        assert not errors
        assert len(body) == BIG
        assert body == BODY
    finally:
        server.stop()


def _stop_collecting(server: HTTPServer, errors: list[BaseException]) -> None:
    try:
        server.stop(TIMEOUT)
    except BaseException as error:
        errors.append(error)
