"""TCPServer, UDPServer, UnixStreamServer and UnixDatagramServer driven by raw sockets."""

from __future__ import annotations

import asyncio
import errno
import os
import socket
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from understudy._errors import ConfigurationError, WaitTimeout
from understudy._sockets import (
    ConnectionRecord,
    Datagram,
    StreamConnection,
    TCPServer,
    UDPServer,
    UnixDatagramServer,
    UnixStreamServer,
)


def recv_until_closed(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


# -- TCP: recording --------------------------------------------------------------------------


def test_tcp_records_every_byte_sent_one_at_a_time() -> None:
    payload = b"hello, understudy\n" * 3
    with TCPServer() as server, socket.create_connection(server.address) as client:
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for byte in payload:
            client.send(bytes([byte]))
        record = server.wait_for_bytes(len(payload))
        assert record.data == payload
        assert record.peer == client.getsockname()
        assert not record.closed


def test_tcp_default_handler_keeps_connection_open_until_client_closes() -> None:
    with TCPServer() as server:
        client = socket.create_connection(server.address)
        client.sendall(b"first")
        server.wait_for_bytes(b"first")
        client.sendall(b" second")
        [record] = server.wait_for_connections()
        server.wait_for_bytes(b"first second")
        client.close()
        [closed] = server.wait_for_connections(match=lambda c: c.closed)
        assert closed is record
        assert closed.data == b"first second"
        assert closed.closed_at is not None
        assert closed.closed_at >= closed.opened_at


def test_tcp_records_connections_apart_and_in_order() -> None:
    with TCPServer() as server:
        for text in (b"one", b"two", b"three"):
            with socket.create_connection(server.address) as client:
                client.sendall(text)
            server.wait_for_bytes(text)
        records = server.wait_for_connections(3, match=lambda c: c.closed)
        assert [record.data for record in records] == [b"one", b"two", b"three"]
        assert server.received == b"onetwothree"
        server.clear()
        assert server.connections == []


def test_tcp_wait_for_bytes_timeout_says_what_arrived() -> None:
    with TCPServer() as server, socket.create_connection(server.address) as client:
        client.sendall(b"not it")
        server.wait_for_bytes(b"not it")
        with pytest.raises(WaitTimeout) as info:
            server.wait_for_bytes(b"the answer", timeout=0.05)
        message = str(info.value)
        assert "b'the answer'" in message
        assert "1 connection arrived" in message
        assert "b'not it'" in message


def test_tcp_wait_timeout_on_a_bounded_journal_counts_every_connection() -> None:
    with TCPServer(journal_size=1) as server:
        for _ in range(3):
            with socket.create_connection(server.address) as client:
                last = client.getsockname()
        server.wait_for_connections(1, match=lambda record: record.peer == last and record.closed)
        with pytest.raises(WaitTimeout) as raised:
            server.wait_for_connections(1, match=lambda record: not record.closed, timeout=0.01)
    assert "; 3 connections arrived, the last 1 kept (journal_size=1)\n" in str(raised.value)


def test_tcp_echo() -> None:
    with TCPServer(echo=True) as server, socket.create_connection(server.address) as client:
        client.sendall(b"ping")
        client.shutdown(socket.SHUT_WR)
        assert recv_until_closed(client) == b"ping"
        assert server.wait_for_bytes(b"ping").data == b"ping"


# -- TCP: handlers ---------------------------------------------------------------------------


def test_tcp_sync_handler_reads_lines_and_exact_sizes_from_split_writes() -> None:
    def handler(connection: StreamConnection) -> None:
        assert isinstance(connection.peer, tuple)
        line = connection.readline()
        connection.sendall(b"line " + line)
        size = int(connection.recv_exactly(2))
        connection.sendall(b"body " + connection.recv_exactly(size) + b"\n")

    with TCPServer(handler=handler) as server, socket.create_connection(server.address) as client:
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for byte in b"hello\n05world":
            client.send(bytes([byte]))
        assert recv_until_closed(client) == b"line hello\nbody world\n"
    assert server.connections[0].data == b"hello\n05world"


def test_tcp_sync_handler_reads_a_large_upload_under_flow_control() -> None:
    size = 4 * 1024 * 1024  # far beyond the reader's buffer: reading pauses and resumes

    def handler(connection: StreamConnection) -> None:
        data = connection.recv_exactly(size, timeout=30.0)
        connection.sendall(str(len(data)).encode() + b" " + data[-4:])

    payload = bytes(range(256)) * (size // 256)
    with TCPServer(handler=handler) as server, socket.create_connection(server.address) as client:
        client.sendall(payload)
        assert recv_until_closed(client) == b"4194304 " + payload[-4:]
        assert server.wait_for_bytes(size).data == payload


def test_tcp_sync_handler_recv_returns_empty_at_eof() -> None:
    got: list[bytes] = []

    def handler(connection: StreamConnection) -> None:
        while chunk := connection.recv(timeout=5.0):
            got.append(chunk)

    with TCPServer(handler=handler) as server:
        with socket.create_connection(server.address) as client:
            client.sendall(b"abc")
        server.wait_for_connections(match=lambda c: c.closed)
    assert b"".join(got) == b"abc"


def test_tcp_sync_handler_recv_timeout_raises_timeout_error() -> None:
    def handler(connection: StreamConnection) -> None:
        connection.recv(timeout=0.01)

    server = TCPServer(handler=handler).start()
    with socket.create_connection(server.address) as client:
        assert recv_until_closed(client) == b""  # closed once the handler raised
    server.stop()
    with pytest.raises(TimeoutError, match=r"waited 0\.01 s for any data"):
        server.check()


def test_tcp_async_handler_gets_streams() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        line = await reader.readline()
        writer.write(line.upper())
        await writer.drain()

    with TCPServer(handler=handler) as server, socket.create_connection(server.address) as client:
        client.sendall(b"shout\n")
        assert recv_until_closed(client) == b"SHOUT\n"


def test_tcp_handler_exception_reaches_check_and_server_goes_on() -> None:
    def handler(connection: StreamConnection) -> None:
        if connection.recv() == b"fail":
            raise ValueError("the handler failed")
        connection.sendall(b"ok")

    server = TCPServer(handler=handler).start()
    try:
        with socket.create_connection(server.address) as client:
            client.sendall(b"fail")
            assert recv_until_closed(client) == b""
        with socket.create_connection(server.address) as client:
            client.sendall(b"fine")
            assert recv_until_closed(client) == b"ok"
    finally:
        server.stop()
    with pytest.raises(ValueError, match="the handler failed"):
        server.check()
    server.check()  # forgotten once raised


def test_tcp_handler_exception_raised_on_leaving_with_block() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise KeyError("async boom")

    with (
        pytest.raises(KeyError, match="async boom"),
        TCPServer(handler=handler) as server,
        socket.create_connection(server.address) as client,
    ):
        assert recv_until_closed(client) == b""


def test_tcp_stop_wakes_a_handler_blocked_in_recv() -> None:
    entered = threading.Event()
    got: list[bytes] = []

    def handler(connection: StreamConnection) -> None:
        entered.set()
        got.append(connection.recv())

    server = TCPServer(handler=handler).start()
    with socket.create_connection(server.address):
        assert entered.wait(5.0)
        server.stop(timeout=5.0)
    server.check()
    assert got == [b""]


def test_tcp_stop_names_a_handler_still_running() -> None:
    release = threading.Event()
    entered = threading.Event()

    def stuck_handler(connection: StreamConnection) -> None:
        entered.set()
        release.wait(10.0)

    server = TCPServer(handler=stuck_handler).start()
    try:
        with socket.create_connection(server.address):
            assert entered.wait(5.0)
            with pytest.raises(WaitTimeout, match="stuck_handler"):
                server.stop(timeout=0.05)
    finally:
        release.set()
    assert not server.running


def test_tcp_restarts_after_stop() -> None:
    server = TCPServer(echo=True)
    for _ in range(2):
        with server, socket.create_connection(server.address) as client:
            client.sendall(b"again")
            assert client.recv(5) == b"again"


def test_tcp_on_ipv6_loopback() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        server = TCPServer(host="::1").start()
    except OSError:
        pytest.skip("no IPv6 loopback")
    with server, socket.create_connection(server.address) as client:
        client.sendall(b"v6")
        assert server.wait_for_bytes(b"v6").peer[0] == "::1"


@pytest.mark.asyncio
async def test_tcp_async_waits() -> None:
    async with TCPServer() as server:
        _, writer = await asyncio.open_connection(server.host, server.port)
        writer.write(b"from asyncio")
        await writer.drain()
        record = await server.wait_for_bytes_async(b"asyncio")
        assert record.data == b"from asyncio"
        writer.close()
        await writer.wait_closed()
        [closed] = await server.wait_for_connections_async(match=lambda c: c.closed)
        assert closed is record
        with pytest.raises(WaitTimeout):
            await server.wait_for_connections_async(2, timeout=0.01)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"handler": lambda c: None, "echo": True}, "either handler= or echo=True"),
        ({"handler": "not callable"}, "must be callable"),
        ({"port": 70000}, "port must be"),
    ],
)
def test_tcp_configuration_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        TCPServer(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("expected", [b"", 0, -1, "text", True])
def test_tcp_wait_for_bytes_refuses_bad_expectations(expected: object) -> None:
    with TCPServer() as server, pytest.raises(ConfigurationError):
        server.wait_for_bytes(expected, timeout=0.01)  # type: ignore[arg-type]


def test_tcp_repr_and_record_repr() -> None:
    server = TCPServer()
    assert "not started" in repr(server)
    with server, socket.create_connection(server.address) as client:
        assert "running" in repr(server)
        client.sendall(b"x" * 100)
        record = server.wait_for_bytes(100)
        assert isinstance(record, ConnectionRecord)
        assert "open 100 bytes" in repr(record)
        assert repr(record).startswith("<understudy.ConnectionRecord")


# -- UDP -------------------------------------------------------------------------------------


def udp_client() -> socket.socket:
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.settimeout(5.0)
    return client


def test_udp_records_datagrams_with_peer() -> None:
    with UDPServer() as server, udp_client() as client:
        client.sendto(b"one", server.address)
        client.sendto(b"two", server.address)
        first, second = server.wait_for_datagrams(2)
        assert (first.data, second.data) == (b"one", b"two")
        assert first.peer == ("127.0.0.1", client.getsockname()[1])
        assert first.received_at <= second.received_at
        assert [d.data for d in server.datagrams] == [b"one", b"two"]
        server.clear()
        assert server.datagrams == []


def test_udp_sync_handler_replies() -> None:
    def handler(datagram: Datagram) -> bytes | None:
        return None if datagram.data == b"quiet" else datagram.data.upper()

    with UDPServer(handler=handler) as server, udp_client() as client:
        client.sendto(b"quiet", server.address)
        client.sendto(b"loud", server.address)
        reply, peer = client.recvfrom(100)
        assert (reply, peer) == (b"LOUD", server.address)
        assert len(server.wait_for_datagrams(2)) == 2


def test_udp_async_handler_replies() -> None:
    async def handler(datagram: Datagram) -> bytes:
        return b"re: " + datagram.data

    with UDPServer(handler=handler) as server, udp_client() as client:
        client.sendto(b"hi", server.address)
        assert client.recvfrom(100)[0] == b"re: hi"


def test_udp_an_empty_reply_is_an_empty_datagram() -> None:
    # b"" is a reply (None is none): an echo of an empty datagram is an empty datagram, which
    # asyncio before Python 3.13 drops in sendto() (CPython gh-113812).
    with UDPServer(handler=lambda datagram: datagram.data) as server, udp_client() as client:
        client.sendto(b"", server.address)
        assert client.recvfrom(100) == (b"", server.address)


def test_udp_bad_reply_and_handler_errors_reach_check() -> None:
    def handler(datagram: Datagram) -> object:
        if datagram.data == b"raise":
            raise RuntimeError("udp handler failed")
        if datagram.data == b"text":
            return "not bytes"
        return b"fine"

    server = UDPServer(handler=handler).start()
    with udp_client() as client:
        for data in (b"raise", b"text", b"ok"):
            client.sendto(data, server.address)
        assert client.recvfrom(100)[0] == b"fine"
    server.stop()
    with pytest.raises(BaseExceptionGroup) as info:
        server.check()
    kinds = sorted(type(error).__name__ for error in info.value.exceptions)
    assert kinds == ["RuntimeError", "TypeError"]


def test_udp_wait_timeout_lists_datagrams() -> None:
    with UDPServer() as server, udp_client() as client:
        client.sendto(b"only", server.address)
        server.wait_for_datagrams(1)
        with pytest.raises(WaitTimeout, match=r"2 datagrams; 1 arrived"):
            server.wait_for_datagrams(2, timeout=0.01)


def test_udp_a_burst_of_datagrams_sent_faster_than_they_are_read_is_received_whole() -> None:
    # A loop that sends (a logger, a metrics client) outruns the server's loop: the datagrams
    # wait in the socket's receive buffer, and what does not fit is dropped by the kernel. The
    # default buffer (net.core.rmem_default, 208 KiB) holds about 250 small datagrams.
    burst = 2000
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        if probe.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) < burst * 2048:
            pytest.skip("net.core.rmem_max caps a receive buffer below what the burst needs")
    with UDPServer() as server, udp_client() as client:
        for number in range(burst):
            client.sendto(b"%d" % number, server.address)
        assert len(server.wait_for_datagrams(burst)) == burst


@pytest.mark.asyncio
async def test_udp_async_wait() -> None:
    async with UDPServer() as server:
        with udp_client() as client:
            client.sendto(b"async", server.address)
            [datagram] = await server.wait_for_datagrams_async()
        assert datagram.data == b"async"


@pytest.mark.parametrize("family", [socket.AF_INET, socket.AF_UNIX], ids=["udp", "unix"])
def test_datagrams_queued_when_stop_begins_are_recorded(family: socket.AddressFamily) -> None:
    # Each sendto() below returns once the datagram is in the server socket's queue (loopback
    # and Unix sockets deliver at once), so all 50 were received before stop(), as a stream
    # server's bytes are: stop() reads them, where it used to drop all but the first few.
    server: UDPServer | UnixDatagramServer = (
        UDPServer() if family == socket.AF_INET else UnixDatagramServer()
    )
    with server, socket.socket(family, socket.SOCK_DGRAM) as client:
        for number in range(50):
            client.sendto(b"%d" % number, server.address)
    assert [datagram.data for datagram in server.datagrams] == [b"%d" % n for n in range(50)]


# -- Unix sockets ----------------------------------------------------------------------------


def test_unix_stream_server_in_private_directory_removed_at_stop() -> None:
    with UnixStreamServer(echo=True) as server:
        path = server.path
        assert server.address == path
        assert os.stat(os.path.dirname(path)).st_mode & 0o777 == 0o700
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect(path)
            client.sendall(b"over unix")
            client.shutdown(socket.SHUT_WR)
            assert recv_until_closed(client) == b"over unix"
        assert server.wait_for_bytes(b"unix").data == b"over unix"
        assert path in repr(server)
    assert not os.path.exists(path)
    assert not os.path.exists(os.path.dirname(path))


def test_unix_stream_server_sync_handler() -> None:
    def handler(connection: StreamConnection) -> None:
        connection.sendall(connection.readline()[::-1])

    with (
        UnixStreamServer(handler=handler) as server,
        socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client,
    ):
        client.connect(server.path)
        client.sendall(b"abc\n")
        assert recv_until_closed(client) == b"\ncba"


def test_unix_stream_server_on_given_path(tmp_path: Path) -> None:
    path = tmp_path / "s.sock"
    with UnixStreamServer(path=path) as server:
        assert server.path == str(path)
        assert path.exists()
    assert not path.exists()
    assert tmp_path.exists()


def test_unix_server_refuses_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "taken"
    path.write_text("")
    with pytest.raises(OSError, match="a file exists there") as info:
        UnixStreamServer(path=path).start()
    assert info.value.errno == errno.EADDRINUSE
    assert path.exists()


@pytest.mark.parametrize("server_class", [UnixStreamServer, UnixDatagramServer])
def test_unix_server_refuses_an_empty_path(server_class: type[UnixStreamServer]) -> None:
    # (Bound, "" is Linux's autobind: a name no client can connect to by the path "".)
    with pytest.raises(ConfigurationError, match="pass no path="):
        server_class(path="")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux's abstract namespace")
def test_unix_server_on_an_abstract_name_serves_and_stops() -> None:
    name = f"\0understudy-test-{os.getpid()}-{threading.get_ident()}"
    server = UnixStreamServer(path=name).start()
    try:
        with socket.socket(socket.AF_UNIX) as client:
            client.connect(server.path)
            client.sendall(b"abstract")
            server.wait_for_bytes(b"abstract")
    finally:
        server.stop()  # (no file to remove: it raised ValueError for the NUL in the name)
    assert not server.running


def test_unix_server_has_no_port_and_no_path_before_start() -> None:
    server = UnixDatagramServer()
    with pytest.raises(AttributeError, match=r"use \.path"):
        _ = server.port
    with pytest.raises(RuntimeError, match="no path yet"):
        _ = server.path
    with pytest.raises(AttributeError, match="not on a Unix socket path"):
        _ = UDPServer().path


def test_unix_datagram_server_records_and_replies_to_bound_client(tmp_path: Path) -> None:
    with UnixDatagramServer(handler=lambda d: b"ack " + d.data) as server:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as client:
            client.settimeout(5.0)
            client.bind(str(tmp_path / "client"))
            client.sendto(b"log line", server.path)
            assert client.recv(100) == b"ack log line"
        [datagram] = server.wait_for_datagrams()
        assert datagram.data == b"log line"
        assert datagram.peer == str(tmp_path / "client")
        path = server.path
    assert not os.path.exists(path)


def test_unix_datagram_reply_to_unbound_client_is_an_error() -> None:
    server = UnixDatagramServer(handler=lambda d: b"reply").start()
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as client:
        client.sendto(b"x", server.path)
    server.wait_for_datagrams()
    server.stop()
    with pytest.raises(Exception, match="not bound to an address"):
        server.check()


# -- fixtures --------------------------------------------------------------------------------


def test_tcp_server_fixture(tcp_server: TCPServer) -> None:
    assert tcp_server.running
    with socket.create_connection(tcp_server.address) as client:
        client.sendall(b"via fixture")
        tcp_server.wait_for_bytes(b"via fixture")


def test_udp_and_unix_fixtures(
    udp_server: UDPServer,
    unix_stream_server: UnixStreamServer,
    unix_datagram_server: UnixDatagramServer,
) -> None:
    assert udp_server.running
    assert unix_stream_server.running
    assert unix_datagram_server.running
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as client:
        client.sendto(b"unix", unix_datagram_server.path)
    assert unix_datagram_server.wait_for_datagrams()[0].data == b"unix"


def test_make_fixtures_take_options(
    make_tcp_server: Callable[..., TCPServer], make_udp_server: Callable[..., UDPServer]
) -> None:
    echo = make_tcp_server(echo=True)
    with socket.create_connection(echo.address) as client:
        client.sendall(b"x")
        assert client.recv(1) == b"x"
    assert make_udp_server().running


def test_fixture_teardown_fails_the_test_with_the_handler_error(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(
        """
        import socket

        import pytest

        def fail(connection):
            raise LookupError("raised in the tcp handler")

        @pytest.fixture
        def tcp_server_options():
            return {"handler": fail}

        def test_client(tcp_server):
            with socket.create_connection(tcp_server.address) as client:
                assert client.recv(10) == b""

        def test_syslog(make_syslog_server):
            server = make_syslog_server(transport="tcp")
            assert server.transport == "tcp"

        @pytest.mark.understudy(transport="udp")
        def test_log_records(log_record_server):
            assert log_record_server.transport == "udp"
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*LookupError: raised in the tcp handler*"])
