"""HTTP/2 load: ``python -m bench._h2load HOST PORT CONNECTIONS STREAMS SECONDS``.

Prior-knowledge h2c on the h2 library: each connection keeps STREAMS GET requests in flight,
opening a new stream as each ends. Prints one JSON line: the responses completed within
SECONDS and the process's CPU seconds (so a report can show whether the client was the limit).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

import h2.config
import h2.connection
import h2.events

__all__ = ["main"]


async def _connection(
    host: str, port: int, streams: int, deadline: float, counts: list[int]
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    conn = h2.connection.H2Connection(
        h2.config.H2Configuration(client_side=True, header_encoding=None)
    )
    conn.initiate_connection()
    headers = [
        (b":method", b"GET"),
        (b":path", b"/"),
        (b":scheme", b"http"),
        (b":authority", f"{host}:{port}".encode()),
    ]

    def open_stream() -> None:
        conn.send_headers(conn.get_next_available_stream_id(), headers, end_stream=True)

    for _ in range(streams):
        open_stream()
    writer.write(conn.data_to_send())
    done = 0
    loop = asyncio.get_running_loop()
    try:
        while loop.time() < deadline:
            data = await reader.read(65536)
            if not data:
                break
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.DataReceived):
                    conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                elif isinstance(event, h2.events.StreamEnded):
                    done += 1
                    if loop.time() < deadline:
                        open_stream()
            writer.write(conn.data_to_send())
    finally:
        counts.append(done)
        writer.close()


async def _run(host: str, port: int, connections: int, streams: int, seconds: float) -> int:
    deadline = asyncio.get_running_loop().time() + seconds
    counts: list[int] = []
    await asyncio.gather(
        *(_connection(host, port, streams, deadline, counts) for _ in range(connections)),
        return_exceptions=True,
    )
    return sum(counts)


def main(argv: list[str]) -> int:
    host, port, connections, streams, seconds = argv
    cpu = time.process_time()
    done = asyncio.run(_run(host, int(port), int(connections), int(streams), float(seconds)))
    print(json.dumps({"responses": done, "cpu": time.process_time() - cpu}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
