"""WebSocket stubs declared in WireMock-style mapping files, and through ``understudy http``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import websocket as websocket_client
import websockets.sync.client
from websockets.typing import Subprotocol

import understudy

FEED = {
    "id": "0b7a3c2e-5f1d-4c3e-9a51-2b8f1f0c9d11",
    "request": {
        "urlPath": "/feed",
        "queryParameters": {"room": {"equalTo": "7"}},
        "headers": {"X-Token": {"equalTo": "t"}},
    },
    "websocket": {
        "subprotocol": "chat",
        "send": ["hello", {"json": {"n": 1}}, {"base64": "AAE="}],
        "reply": [
            {"when": {"equalTo": "ping"}, "send": "pong"},
            {"when": {"matches": "sub .*"}, "send": {"json": {"ok": True}}},
            {"when": {"equalToJson": {"op": "x"}}, "send": "x!"},
        ],
        "echo": True,
        "close": {"code": 4000, "reason": "bye", "after": 4},
    },
}


def _write(tmp_path: Path, *mappings: object) -> Path:
    directory = tmp_path / "mappings"
    directory.mkdir()
    document = {"mappings": [*mappings, {"request": {"urlPath": "/h"}, "response": {"body": "h"}}]}
    (directory / "all.json").write_text(json.dumps(document))
    return tmp_path


def test_a_mapping_file_declares_a_scripted_websocket(tmp_path: Path) -> None:
    root = _write(tmp_path, FEED)
    with understudy.HTTPServer(mappings=root) as server:
        with websockets.sync.client.connect(
            server.ws_url + "/feed?room=7",
            additional_headers={"X-Token": "t"},
            subprotocols=[Subprotocol("chat")],
        ) as client:
            assert client.subprotocol == "chat"
            assert [client.recv(timeout=5) for _ in range(3)] == ["hello", '{"n": 1}', b"\x00\x01"]
            answers = []
            for message in ("ping", "sub news", '{"op": "x"}', "other"):
                client.send(message)
                answers.append(client.recv(timeout=5))
            assert answers == ["pong", '{"ok": true}', "x!", "other"]
            with pytest.raises(websockets.exceptions.ConnectionClosed):
                client.recv(timeout=5)
            assert (client.close_code, client.close_reason) == (4000, "bye")
        assert server.wait_for_websockets(1)[0].request.target == "/feed?room=7"
        # the HTTP mappings of the same file still answer
        response = httpx.get(server.url + "/h", timeout=5)
        assert (response.status_code, response.text) == (200, "h")
        [request] = server.wait_for_requests(1, match=lambda r: r.path == "/h")
        assert request.response is not None
        assert request.response.answered_by == "mapping"


def test_an_unreached_websocket_mapping_does_not_fail_the_test(tmp_path: Path) -> None:
    with understudy.HTTPServer(mappings=_write(tmp_path, FEED)) as server:
        server.check()  # (an expect_websocket made in the test would fail here)


def test_reset_reloads_a_websocket_mapping_once(tmp_path: Path) -> None:
    root = _write(tmp_path, {"request": {"urlPath": "/e"}, "websocket": {"echo": True}})
    with understudy.HTTPServer(mappings=root) as server:
        server.load_mappings(root)  # (the same id again: replaced, not added)
        client = websocket_client.create_connection(server.ws_url + "/e", timeout=5)
        try:
            client.send("a")
            assert client.recv() == "a"
        finally:
            client.close()


def test_websocket_mappings_without_ids_in_two_files_are_both_served(tmp_path: Path) -> None:
    for name in ("a", "b"):
        mapping = {"request": {"urlPath": f"/{name}"}, "websocket": {"send": name}}
        (tmp_path / f"{name}.json").write_text(json.dumps(mapping))
    with understudy.HTTPServer(mappings=tmp_path) as server:
        for name in ("a", "b"):
            with websockets.sync.client.connect(f"{server.ws_url}/{name}") as client:
                assert client.recv(timeout=5) == name


@pytest.mark.parametrize(
    ("websocket", "field"),
    [
        ({"echo": True, "colour": 1}, "bad.json: mapping.websocket.colour: unknown field"),
        ({"send": [3]}, "websocket.send[0]"),
        ({"reply": [{"when": {"matches": "("}, "send": "x"}]}, "reply[0].when.matches: RE2"),
        ({"reply": [{"when": {"matches": "(?=a)"}, "send": "x"}]}, "reply[0].when.matches"),
        ({"close": {"code": 999}}, "websocket.close.code"),
        ({"close": {"code": 5000}}, "a close code is an int in 1000-4999, not 5000"),
        ({"sendInvalid": "nope"}, "send_invalid() takes one of"),
        (
            {"close": {}, "drop": {}},
            """one of "close", "drop" and "stall", not ['close', 'drop']""",
        ),
    ],
)
def test_a_bad_websocket_mapping_names_the_field(
    tmp_path: Path, websocket: dict[str, object], field: str
) -> None:
    file = tmp_path / "bad.json"
    file.write_text(json.dumps({"request": {"urlPath": "/x"}, "websocket": websocket}))
    server = understudy.HTTPServer()
    with pytest.raises(understudy.ConfigurationError, match=str(file)) as raised:
        server.load_mappings(file)
    assert field in str(raised.value)


def test_understudy_http_serves_a_websocket_mapping(tmp_path: Path) -> None:
    root = _write(
        tmp_path, {"request": {"urlPath": "/e"}, "websocket": {"send": "hi", "echo": True}}
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "understudy", "http", "--mappings", str(root), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        info = json.loads(process.stdout.readline())
        assert info["event"] == "listening"
        url = info["url"].replace("http://", "ws://")
        with websockets.sync.client.connect(url + "/e") as client:
            assert client.recv(timeout=5) == "hi"
            client.send(b"\x01")
            assert client.recv(timeout=5) == b"\x01"
    finally:
        process.terminate()
        process.communicate(timeout=10)
    assert process.returncode == 0
