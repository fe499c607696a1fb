"""WireMock's fault, delayDistribution and chunkedDribbleDelay, mapped onto understudy's faults."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests

import understudy

#: WireMock's fault -> (what requests raises, what httpx raises)
FAULTS: dict[str, tuple[type[Exception], type[Exception]]] = {
    "CONNECTION_RESET_BY_PEER": (requests.ConnectionError, httpx.ReadError),
    "EMPTY_RESPONSE": (requests.ConnectionError, httpx.RemoteProtocolError),
    "MALFORMED_RESPONSE_CHUNK": (
        requests.exceptions.ChunkedEncodingError,
        httpx.RemoteProtocolError,
    ),
    "RANDOM_DATA_THEN_CLOSE": (requests.ConnectionError, httpx.RemoteProtocolError),
}


def mapping(**response: Any) -> dict[str, Any]:
    return {"request": {"method": "GET", "url": "/x"}, "response": response}


@pytest.fixture
def server() -> Iterator[understudy.HTTPServer]:
    with understudy.HTTPServer(admin=True) as server:
        yield server


def load(server: understudy.HTTPServer, tmp_path: Path, document: dict[str, Any]) -> None:
    file = tmp_path / "mapping.json"
    file.write_text(json.dumps(document))
    server.load_mappings(file)


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_each_fault_from_a_mapping_file(
    server: understudy.HTTPServer, tmp_path: Path, fault: str
) -> None:
    load(server, tmp_path, mapping(status=200, body="never", fault=fault))
    with pytest.raises(FAULTS[fault][0]):
        requests.get(server.url + "/x", timeout=5)
    with pytest.raises(FAULTS[fault][1]):
        httpx.get(server.url + "/x", timeout=5)
    assert [r.path for r in server.requests] == ["/x", "/x"]  # recorded all the same


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_each_fault_through_the_admin_api(server: understudy.HTTPServer, fault: str) -> None:
    created = requests.post(server.url + "/__admin/mappings", json=mapping(fault=fault), timeout=5)
    assert created.status_code == 201, created.text
    with pytest.raises(FAULTS[fault][0]):
        requests.get(server.url + "/x", timeout=5)


@pytest.mark.parametrize(
    "distribution",
    [
        {"type": "uniform", "lower": 20_000, "upper": 30_000},
        {"type": "lognormal", "median": 20_000, "sigma": 0.1},
    ],
)
def test_a_delay_distribution_holds_the_answer_back(
    server: understudy.HTTPServer, tmp_path: Path, distribution: dict[str, Any]
) -> None:
    load(server, tmp_path, mapping(body="late", delayDistribution=distribution))
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(server.url + "/x", timeout=0.3)


@pytest.mark.parametrize(
    "distribution",
    [
        {"type": "uniform", "lower": 0, "upper": 1},
        {"type": "lognormal", "median": 1, "sigma": 0.1},
    ],
)
def test_a_short_delay_distribution_answers(
    server: understudy.HTTPServer, distribution: dict[str, Any]
) -> None:
    document = mapping(body="soon", delayDistribution=distribution)
    assert requests.post(server.url + "/__admin/mappings", json=document, timeout=5).ok
    assert requests.get(server.url + "/x", timeout=5).text == "soon"


def test_a_chunked_dribble_delivers_the_whole_body(
    server: understudy.HTTPServer, tmp_path: Path
) -> None:
    body = "0123456789" * 10
    dribble = {"numberOfChunks": 5, "totalDuration": 20}
    load(server, tmp_path, mapping(body=body, chunkedDribbleDelay=dribble))
    with httpx.stream("GET", server.url + "/x", timeout=5) as reply:
        pieces = list(reply.iter_raw())
    assert b"".join(pieces) == body.encode()


def test_a_slow_dribble_times_the_client_out(server: understudy.HTTPServer, tmp_path: Path) -> None:
    dribble = {"numberOfChunks": 2, "totalDuration": 60_000}
    load(server, tmp_path, mapping(body="ab", chunkedDribbleDelay=dribble))
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(server.url + "/x", timeout=0.3)


@pytest.mark.parametrize(
    ("response", "message"),
    [
        ({"fault": "SOCKET_TIMEOUT"}, "is not one of WireMock's faults"),
        ({"delayDistribution": {"type": "gaussian"}}, '.type: "uniform"'),
        ({"delayDistribution": {"type": "uniform", "lower": 1}}, ".upper: required"),
        (
            {"delayDistribution": {"type": "uniform", "lower": 1, "upper": 2, "mean": 3}},
            ".mean: unknown field",
        ),
        (
            {"delayDistribution": {"type": "lognormal", "median": -1, "sigma": 1}},
            ".median: a number of milliseconds",
        ),
        (
            {"fixedDelayMilliseconds": 5, "delayDistribution": {"type": "uniform", "lower": 1}},
            "not both",
        ),
        (
            {"delayDistribution": {"type": "uniform", "lower": 2000, "upper": 1000}},
            ".upper: a number of milliseconds, 2000 (lower) or more",
        ),
        (
            {"delayDistribution": {"type": "lognormal", "median": 0, "sigma": 1}},
            ".median: a number of milliseconds above 0",
        ),
        ({"chunkedDribbleDelay": {"numberOfChunks": 0, "totalDuration": 5}}, "1 or more"),
        ({"chunkedDribbleDelay": {"numberOfChunks": 2}}, ".totalDuration: required"),
        ({"chunkedDribbleDelay": [2, 5]}, "an object such as"),
    ],
)
def test_a_malformed_fault_or_delay_is_refused_naming_the_field(
    tmp_path: Path, response: dict[str, Any], message: str
) -> None:
    file = tmp_path / "bad.json"
    file.write_text(json.dumps(mapping(**response)))
    with understudy.HTTPServer() as server, pytest.raises(understudy.ConfigurationError) as error:
        server.load_mappings(file)
    assert message in str(error.value)
    assert str(file) in str(error.value)
