"""(k) The WebSocket echo client: raw sockets on one epoll, in a process of its own.

It must not be the bottleneck (issue 22): an asyncio streams client spends more CPU per round
trip than the servers it measures, so on a loaded 2-core machine the figure was the client's.
This one does the RFC 6455 handshakes with blocking sockets, then keeps one pre-masked 16-byte
text frame in flight per connection with non-blocking ``send``/``recv`` on one ``select.epoll``
and no per-message allocation beyond ``recv``'s bytes. It prints the round trips it counted and
its own CPU seconds (``time.process_time``), so the report can show its share.

Run: ``python -m bench._ws_client PORT CONNECTIONS SECONDS`` → ``COUNT CPU_SECONDS``.
"""

from __future__ import annotations

import base64
import os
import select
import socket
import sys
import time

__all__ = ["handshake", "masked_frame", "run_clients"]

HOST = "127.0.0.1"
PAYLOAD = b"0123456789abcdef"  # 16 bytes of text
_MASK = b"\x01\x02\x03\x04"


def masked_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """A client's (masked, RFC 6455 §5.3) single frame of ``payload`` (< 126 bytes)."""
    masked = bytes(byte ^ _MASK[index % 4] for index, byte in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + _MASK + masked


def handshake(port: int, *, timeout: float = 10.0) -> tuple[socket.socket, bytes]:
    """Open a blocking WebSocket connection to ``/``; the socket and bytes read past the 101."""
    sock = socket.create_connection((HOST, port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET / HTTP/1.1\r\nHost: {HOST}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("the server closed the connection during the handshake")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 101"):
        raise RuntimeError(f"handshake refused: {head!r}")
    return sock, rest


def echo_once(port: int) -> None:
    """A blocking raw client: handshake, one 16-byte echo, the closing handshake, EOF."""
    sock, data = handshake(port, timeout=5.0)
    with sock:
        sock.sendall(masked_frame(PAYLOAD))
        while len(data) < len(PAYLOAD) + 2:
            data += sock.recv(4096)
        if data[2 : len(PAYLOAD) + 2] != PAYLOAD:
            raise RuntimeError(f"wrong echo: {data!r}")
        sock.sendall(masked_frame((1000).to_bytes(2, "big"), opcode=0x8))
        while sock.recv(4096):
            pass  # (the server's close frame, then its end of the stream)


def run_clients(port: int, connections: int, duration: float) -> tuple[int, float]:
    """Echo over ``connections`` connections for ``duration`` s: (round trips, CPU seconds)."""
    socks = [handshake(port)[0] for _ in range(connections)]
    frame = masked_frame(PAYLOAD)
    answer = len(PAYLOAD) + 2
    poller = select.epoll()
    pending: dict[int, int] = {}  # fd -> answer bytes still to read
    by_fd: dict[int, socket.socket] = {}
    for sock in socks:
        sock.setblocking(False)
        by_fd[sock.fileno()] = sock
        poller.register(sock.fileno(), select.EPOLLIN)
    cpu_before = time.process_time()
    stop_at = time.monotonic() + duration
    for fd, sock in by_fd.items():
        sock.send(frame)
        pending[fd] = answer
    count = 0
    while time.monotonic() < stop_at:
        for fd, _ in poller.poll(1.0):
            sock = by_fd[fd]
            left = pending[fd] - len(sock.recv(65536))
            while left <= 0:  # (each whole answer: the next message goes out)
                count += 1
                left += answer
                sock.send(frame)
            pending[fd] = left
    cpu = time.process_time() - cpu_before
    poller.close()
    for sock in socks:
        sock.close()
    return count, cpu


if __name__ == "__main__":
    counted, cpu_seconds = run_clients(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]))
    print(counted, cpu_seconds)
