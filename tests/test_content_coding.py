"""Content codings (RFC 9110 §8.4, §12.5.3) from stubs and served directories, and the fault
that sends a body that does not decode: proven with real clients that decode (requests, httpx,
aiohttp, curl --compressed) and with ones that do not (urllib, http.client)."""

from __future__ import annotations

import asyncio
import gzip
import http.client
import shutil
import subprocess
import sys
import urllib.request
import zlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import brotli
import httpx
import pytest
import requests
import zstandard

import understudy
from understudy import ConfigurationError, Fault, HTTPServer, Request, Response
from understudy._core.coding import encode
from understudy._http import _file_response, _response
from versions import Version

TEXT = "understudy " * 200
DECODE = {
    "gzip": gzip.decompress,
    "deflate": zlib.decompress,
    "br": brotli.decompress,
    "zstd": lambda data: zstandard.ZstdDecompressor().decompressobj().decompress(data),
}


def fetch(
    server: HTTPServer, path: str, headers: dict[str, str] | None = None, method: str = "GET"
) -> tuple[int, dict[str, str], bytes]:
    """Status, fields (last value per name, lower-case names) and body bytes as sent."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        connection.request(method, path, headers=headers or {})
        response = connection.getresponse()
        body = response.read()
        fields = {name.lower(): value for name, value in response.getheaders()}
        return response.status, fields, body
    finally:
        connection.close()


# -- stubs: Response(content_coding=...) and respond(content_codings=...) ---------------------


def test_requests_and_httpx_get_a_coded_body_they_asked_for(http: Version) -> None:
    with http.server() as server:
        server.expect("GET", "/text").respond(body=TEXT, content_codings=("gzip",))
        reply = http.get(server.url + "/text", timeout=5)  # Accept-Encoding: gzip, deflate...
        assert reply.headers["Content-Encoding"] == "gzip"
        assert reply.text == TEXT
        assert int(reply.headers["Content-Length"]) < len(TEXT)  # the coded bytes' length
        assert reply.headers["Vary"] == "Accept-Encoding"
        answer = http.get(server.url + "/text", timeout=5)
        assert (answer.headers["content-encoding"], answer.text) == ("gzip", TEXT)
        # The journal records the answer as sent, Content-Encoding included.
        records = [request.response for request in server.requests]
        assert [r.headers["Content-Encoding"] for r in records if r] == ["gzip", "gzip"]


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "zstd"])
def test_each_coding_is_chosen_by_accept_encoding(coding: str) -> None:
    with HTTPServer() as server:
        server.expect("GET", "/x").respond(
            body=TEXT, content_codings=("zstd", "br", "gzip", "deflate")
        )
        status, fields, body = fetch(server, "/x", {"Accept-Encoding": f"{coding}, identity;q=0.1"})
        assert (status, fields["content-encoding"], fields["vary"]) == (
            200,
            coding,
            "Accept-Encoding",
        )
        assert int(fields["content-length"]) == len(body)
        assert DECODE[coding](body) == TEXT.encode()


@pytest.mark.parametrize("coding", ["br", "zstd"])
def test_requests_and_httpx_decode_br_and_zstd(http: Version, coding: str) -> None:
    with http.server(response=Response(body=TEXT, content_coding=coding)) as server:
        assert http.get(server.url, timeout=5).text == TEXT
        assert http.get(server.url, timeout=5).text == TEXT


def test_a_client_that_asks_for_no_coding_gets_the_body_as_it_is() -> None:
    with HTTPServer() as server:
        server.expect("GET", "/x").respond(body=TEXT, content_codings="gzip, br")
        with urllib.request.urlopen(server.url + "/x", timeout=5) as reply:  # no Accept-Encoding
            assert reply.headers["Content-Encoding"] is None
            assert reply.headers["Vary"] == "Accept-Encoding"  # it still varies
            assert reply.read() == TEXT.encode()
        status, fields, body = fetch(server, "/x", {"Accept-Encoding": "compress"})
        assert "content-encoding" not in fields
        assert body == TEXT.encode()
        status, fields, body = fetch(server, "/x", {"Accept-Encoding": "gzip;q=0.4, identity"})
        assert (status, body) == (200, TEXT.encode())
        assert "content-encoding" not in fields


def test_content_coding_codes_whatever_the_request_says() -> None:
    with HTTPServer() as server:
        server.expect("GET", "/x").respond(body=TEXT, content_coding="gzip")
        # urllib neither asks for nor decodes a coding: the caller gets gzip's bytes
        with urllib.request.urlopen(server.url + "/x", timeout=5) as reply:
            assert reply.headers["Content-Encoding"] == "gzip"
            assert "Vary" not in reply.headers  # not negotiated: it does not vary
            assert gzip.decompress(reply.read()) == TEXT.encode()


def test_aiohttp_decodes_what_it_asked_for() -> None:
    async def get(url: str) -> tuple[str, str]:
        async with aiohttp.ClientSession() as session, session.get(url) as reply:
            return reply.headers["Content-Encoding"], await reply.text()

    with HTTPServer() as server:
        server.expect("GET", "/x").respond(body=TEXT, content_codings=("gzip", "deflate"))
        assert asyncio.run(get(server.url + "/x")) == ("gzip", TEXT)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_compressed_gets_a_coded_body() -> None:
    with HTTPServer() as server:
        server.expect("GET", "/x").respond(body=TEXT, content_codings=("gzip",))
        result = subprocess.run(
            ["curl", "-s", "--compressed", "-D", "-", server.url + "/x"],
            capture_output=True,
            timeout=10,
            check=True,
        )
        head, _, body = result.stdout.partition(b"\r\n\r\n")
        assert b"\r\nContent-Encoding: gzip\r\n" in head
        assert body == TEXT.encode()  # curl decoded it
        [request] = server.requests
        assert "gzip" in request.headers["Accept-Encoding"]


def test_a_strong_etag_names_the_coding_and_a_weak_one_is_kept() -> None:
    with HTTPServer() as server:
        server.expect("GET", "/strong").respond(
            body=TEXT, headers={"ETag": '"v1"'}, content_codings=("gzip",)
        )
        server.expect("GET", "/weak").respond(
            body=TEXT, headers={"ETag": 'W/"v1"'}, content_codings=("gzip",)
        )
        assert fetch(server, "/strong", {"Accept-Encoding": "gzip"})[1]["etag"] == '"v1-gzip"'
        assert fetch(server, "/strong")[1]["etag"] == '"v1"'  # identity: its own tag
        assert fetch(server, "/weak", {"Accept-Encoding": "gzip"})[1]["etag"] == 'W/"v1"'


def test_an_existing_vary_gets_accept_encoding_added() -> None:
    with HTTPServer() as server:
        server.expect("GET", "/x").respond(
            body=TEXT, headers={"Vary": "Accept"}, content_codings=("gzip",)
        )
        assert fetch(server, "/x", {"Accept-Encoding": "gzip"})[1]["vary"] == (
            "Accept, Accept-Encoding"
        )


def test_a_head_request_gets_the_coded_length_and_no_body() -> None:
    with HTTPServer(response=Response(body=TEXT, content_codings=("gzip",))) as server:
        _, got, body = fetch(server, "/", {"Accept-Encoding": "gzip"})
        status, fields, nothing = fetch(server, "/", {"Accept-Encoding": "gzip"}, method="HEAD")
        assert (status, nothing) == (200, b"")
        assert fields["content-encoding"] == "gzip"
        assert fields["content-length"] == got["content-length"] == str(len(body))


def test_statuses_without_content_are_never_coded() -> None:
    with HTTPServer() as server:
        server.expect("GET", "/x").respond(204, content_coding="gzip")
        status, fields, body = fetch(server, "/x", {"Accept-Encoding": "gzip"})
        assert (status, body) == (204, b"")
        assert "content-encoding" not in fields


def test_coded_bodies_are_made_once_per_coding(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[str] = []

    def counting(coding: str, data: bytes) -> bytes:
        made.append(coding)
        return encode(coding, data)

    monkeypatch.setattr(_response, "encode", counting)
    response = Response(body=TEXT, content_codings=("br", "gzip"))
    with HTTPServer(response=response) as server:
        for accept in ["gzip", "br", "gzip", "br", "gzip", "identity"]:
            assert fetch(server, "/", {"Accept-Encoding": accept})[0] == 200
        with HTTPServer() as other:  # the same response given to another server
            other.expect("GET", "/").respond_with(lambda request: response)
            fetch(other, "/", {"Accept-Encoding": "gzip"})
    assert sorted(made) == ["br", "gzip"]


def test_a_streamed_body_is_coded_piece_by_piece() -> None:
    def handler(request: Request) -> Response:
        return Response(body=iter([b"data: one\n\n", b"data: two\n\n"]), content_coding="gzip")

    with (
        HTTPServer(handler=handler) as server,
        httpx.stream("GET", server.url, timeout=5) as reply,
    ):
        assert reply.headers["content-encoding"] == "gzip"
        assert reply.headers["transfer-encoding"] == "chunked"
        assert b"".join(reply.iter_bytes()) == b"data: one\n\ndata: two\n\n"


def test_a_streamed_body_reaches_the_client_as_each_piece_is_produced() -> None:
    produced = asyncio.Event()
    loop_of_server: list[asyncio.AbstractEventLoop] = []

    async def events() -> AsyncIterator[bytes]:
        yield b"data: first\n\n"
        await produced.wait()  # the second piece only once the client has read the first
        yield b"data: second\n\n"

    async def handler(request: Request) -> Response:
        loop_of_server.append(asyncio.get_running_loop())
        return Response(body=events(), content_codings=("br", "gzip"))

    with (
        HTTPServer(handler=handler) as server,
        requests.get(server.url, stream=True, timeout=5) as reply,
    ):
        assert reply.headers["Content-Encoding"] == "br"
        pieces = reply.iter_content(chunk_size=None)
        assert next(pieces) == b"data: first\n\n"  # flushed: decodable at once
        loop_of_server[0].call_soon_threadsafe(produced.set)
        assert b"".join(pieces) == b"data: second\n\n"


def test_a_list_body_is_coded_afresh_for_each_request() -> None:
    response = Response(body=[b"a" * 100, b"b" * 100], content_codings=("deflate",))
    with HTTPServer(response=response) as server:
        for _ in range(2):
            _, fields, body = fetch(server, "/", {"Accept-Encoding": "deflate"})
            assert fields["transfer-encoding"] == "chunked"
            assert zlib.decompress(body) == b"a" * 100 + b"b" * 100


def test_dribbled_and_delayed_answers_are_coded_too(http: Version) -> None:
    with http.server() as server:
        server.expect("GET", "/drip").respond(
            body=TEXT,
            content_coding="gzip",
            dribble=understudy.Dribble(chunks=3, duration=0.03),
            delay=0.01,
        )
        reply = http.get(server.url + "/drip", timeout=5)
        assert (reply.headers["Content-Encoding"], reply.text) == ("gzip", TEXT)


# -- configuration errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"content_coding": "lzma"}, "'lzma' is not a content coding understudy can apply"),
        ({"content_codings": ("gzip", "compress")}, "'compress' is not a content coding"),
        (
            {"content_coding": "gzip", "content_codings": "br"},
            "content_coding= .* or content_codings= .*, not both",
        ),
        ({"content_coding": ("gzip", "br")}, r"write content_codings=\('gzip', 'br'\)"),
        (
            {"content_coding": "gzip", "headers": {"Content-Encoding": "gzip"}},
            "computes its Content-Encoding; leave the field out",
        ),
        (
            {"content_codings": "gzip", "headers": {"Content-Length": "3"}},
            "computes its Content-Length",
        ),
        ({"content_codings": ""}, "content_codings is empty"),
    ],
)
def test_a_bad_coding_is_refused_saying_what_to_write(
    kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Response(body="x", **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("coding", "package"),
    [
        ("br", "brotli"),
        ("zstd", "backports.zstd" if sys.version_info < (3, 14) else "compression.zstd"),
    ],
)
def test_a_coding_whose_package_is_missing_names_the_package(
    coding: str, package: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, package, None)  # import raises ImportError
    with pytest.raises(ConfigurationError, match=rf"needs the package {package}"):
        Response(body="x", content_coding=coding)
    with pytest.raises(
        ConfigurationError, match=rf"understudy\[{'brotli' if coding == 'br' else 'zstd'}\]"
    ):
        HTTPServer(root=tmp_path, content_codings=("gzip", coding))
    (tmp_path / "a.txt").write_text(f"Header: Content-Coding: {coding}\n")
    with HTTPServer() as server:
        server.serve_directory("/", tmp_path, in_file_headers=True)
        assert fetch(server, "/a.txt")[0] == 500
        with pytest.raises(ConfigurationError, match=r"a.txt: malformed .*needs the package"):
            server.check()


def test_content_codings_on_a_server_need_root() -> None:
    with pytest.raises(ConfigurationError, match="content_codings= applies to the files of root="):
        HTTPServer(content_codings=("gzip",))


# -- served directories ------------------------------------------------------------------------


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "page.html").write_text(TEXT)
    (tmp_path / "data.json.gz").write_bytes(gzip.compress(b'{"a": 1}'))
    (tmp_path / "plain.txt").write_text("Header: Content-Codings: none\n" + TEXT)
    (tmp_path / "forced.txt").write_text(TEXT)
    (tmp_path / "forced.txt.headers").write_text("Content-Coding: deflate\n")
    return tmp_path


@pytest.fixture
def directory(files: Path) -> Iterator[HTTPServer]:
    with HTTPServer(root=files, content_codings=("br", "gzip"), generated_fields="all") as server:
        server.serve_directory("/in", files, in_file_headers=True, content_codings="gzip")
        yield server


def test_a_directory_answers_in_the_coding_the_client_prefers(directory: HTTPServer) -> None:
    reply = requests.get(directory.url + "/page.html", timeout=5)
    assert reply.headers["Content-Encoding"] == "br"  # requests accepts br (brotli installed)
    assert reply.text == TEXT
    assert reply.headers["Vary"] == "Accept-Encoding"
    answer = httpx.get(directory.url + "/page.html", headers={"Accept-Encoding": "gzip"})
    assert (answer.headers["content-encoding"], answer.text) == ("gzip", TEXT)
    with urllib.request.urlopen(directory.url + "/page.html", timeout=5) as plain:
        assert plain.headers["Content-Encoding"] is None
        assert plain.read() == TEXT.encode()
    coded = [r.response.headers.get("Content-Encoding") for r in directory.requests if r.response]
    assert coded == ["br", "gzip", None]


def test_each_coding_of_a_file_has_its_own_etag(directory: HTTPServer) -> None:
    tags = {
        accept: fetch(directory, "/page.html", {"Accept-Encoding": accept})[1]["etag"]
        for accept in ["br", "gzip", "identity"]
    }
    assert tags["br"] == tags["identity"][:-1] + '-br"'
    assert tags["gzip"] == tags["identity"][:-1] + '-gzip"'
    # the tag of one coding matches for that coding only (If-None-Match: 304 vs 200)
    gzip_tag = {"If-None-Match": tags["gzip"]}
    status, fields, body = fetch(directory, "/page.html", {"Accept-Encoding": "gzip", **gzip_tag})
    assert (status, body, fields["vary"], fields["etag"]) == (
        304,
        b"",
        "Accept-Encoding",
        tags["gzip"],
    )
    assert fetch(directory, "/page.html", {"Accept-Encoding": "br", **gzip_tag})[0] == 200
    assert fetch(directory, "/page.html", gzip_tag)[0] == 200


def test_a_range_of_a_coded_file_counts_the_coded_bytes(directory: HTTPServer) -> None:
    _, fields, whole = fetch(directory, "/page.html", {"Accept-Encoding": "gzip"})
    status, part_fields, part = fetch(
        directory, "/page.html", {"Accept-Encoding": "gzip", "Range": "bytes=10-19"}
    )
    assert status == 206
    assert part == whole[10:20]
    assert part_fields["content-range"] == f"bytes 10-19/{len(whole)}"
    assert part_fields["content-encoding"] == "gzip"
    # If-Range with the coded tag keeps the range; with another coding's tag, the whole
    status, _, part = fetch(
        directory,
        "/page.html",
        {"Accept-Encoding": "gzip", "Range": "bytes=0-3", "If-Range": fields["etag"]},
    )
    assert (status, part) == (206, whole[:4])
    status, _, _ = fetch(
        directory,
        "/page.html",
        {"Accept-Encoding": "br", "Range": "bytes=0-3", "If-Range": fields["etag"]},
    )
    assert status == 200
    status, fields, _ = fetch(
        directory, "/page.html", {"Accept-Encoding": "gzip", "Range": f"bytes={len(whole)}-"}
    )
    assert (status, fields["content-range"]) == (416, f"bytes */{len(whole)}")


def test_a_412_and_a_416_of_a_negotiated_file_vary_as_its_200_does(directory: HTTPServer) -> None:
    """Which coding was chosen decided them (the tag, the length): they say so (§12.5.5)."""
    _, fields, whole = fetch(directory, "/page.html", {"Accept-Encoding": "gzip"})
    failed = {"Accept-Encoding": "br", "If-Match": fields["etag"]}  # (the gzip tag)
    status, failed_fields, _ = fetch(directory, "/page.html", failed)
    assert (status, failed_fields.get("vary")) == (412, "Accept-Encoding")
    too_far = {"Accept-Encoding": "gzip", "Range": f"bytes={len(whole)}-"}
    status, too_far_fields, _ = fetch(directory, "/page.html", too_far)
    assert (status, too_far_fields.get("vary")) == (416, "Accept-Encoding")
    # a coding that is not negotiated varies with nothing, whatever the answer
    status, forced_fields, _ = fetch(directory, "/forced.txt", {"If-Match": '"other"'})
    assert (status, forced_fields.get("vary")) == (412, None)


def test_head_of_a_coded_file_gives_the_coded_length(directory: HTTPServer) -> None:
    _, fields, whole = fetch(directory, "/page.html", {"Accept-Encoding": "gzip"})
    assert fields["content-encoding"] == "gzip"
    status, head_fields, body = fetch(
        directory, "/page.html", {"Accept-Encoding": "gzip"}, method="HEAD"
    )
    assert (status, body, head_fields["content-length"]) == (200, b"", str(len(whole)))


def test_a_file_that_declares_its_coding_is_sent_as_it_is(http: Version, tmp_path: Path) -> None:
    (tmp_path / "data.json.gz").write_bytes(gzip.compress(b'{"a": 1}'))
    suffixes = {".gz": {"Content-Encoding": "gzip", "Content-Type": "application/json"}}
    with http.server() as server:
        server.serve_directory("/", tmp_path, suffix_headers=suffixes, content_coding="br")
        reply = http.get(server.url + "/data.json.gz", timeout=5)
        assert reply.json() == {"a": 1}  # gzip once, not br over gzip
        assert reply.headers["Content-Encoding"] == "gzip"
        assert "Vary" not in reply.headers


def test_pseudo_fields_choose_a_files_coding(directory: HTTPServer) -> None:
    # a sidecar's Content-Coding: always deflate, whatever the request says
    status, fields, body = fetch(directory, "/forced.txt")
    assert (fields["content-encoding"], zlib.decompress(body)) == ("deflate", TEXT.encode())
    assert "vary" not in fields
    # an in-file Content-Codings: none turns the directory's coding off (read, never sent)
    status, fields, body = fetch(directory, "/in/plain.txt", {"Accept-Encoding": "gzip"})
    assert "content-encoding" not in fields
    assert "content-codings" not in fields
    assert body.startswith(b"Header: Content-Codings: none\n")
    status, fields, body = fetch(directory, "/in/page.html", {"Accept-Encoding": "gzip, br"})
    assert (status, gzip.decompress(body)) == (200, TEXT.encode())
    assert fields["content-encoding"] == "gzip"  # the mount's own codings


def test_coded_files_are_kept_for_the_next_request(
    directory: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[str] = []

    def counting(coding: str, data: bytes) -> bytes:
        made.append(coding)
        return encode(coding, data)

    monkeypatch.setattr(_file_response, "encode", counting)
    _file_response._coded_kept.cache_clear()
    for _ in range(3):
        fetch(directory, "/page.html", {"Accept-Encoding": "gzip"})
    assert made == ["gzip"]


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_command_codes_files_for_curl_compressed(files: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "understudy", "http", "--root", str(files), "--no-admin",
         "--content-codings", "gzip"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        url = line.split("listening on ")[1].split()[0]
        result = subprocess.run(
            ["curl", "-s", "--compressed", "-D", "-", url + "/page.html"],
            capture_output=True,
            timeout=10,
            check=True,
        )
        head, _, body = result.stdout.partition(b"\r\n\r\n")
        assert b"\r\nContent-Encoding: gzip\r\n" in head
        assert body == TEXT.encode()
    finally:
        process.terminate()
        process.communicate(timeout=10)


# -- the fault: a body that does not decode ----------------------------------------------------


def test_a_malformed_content_coding_fails_every_decoding_client() -> None:
    async def aiohttp_get(url: str) -> bytes:
        async with aiohttp.ClientSession() as session, session.get(url) as reply:
            return await reply.read()

    with HTTPServer() as server:
        server.expect("GET", "/x").fault(Fault.MALFORMED_CONTENT_CODING)
        with pytest.raises(requests.exceptions.ContentDecodingError):
            requests.get(server.url + "/x", timeout=5)
        with pytest.raises(httpx.DecodingError):
            httpx.get(server.url + "/x", timeout=5)
        with pytest.raises(aiohttp.ClientPayloadError):
            asyncio.run(aiohttp_get(server.url + "/x"))
        # urllib decodes nothing: the framing is sound, the caller's gzip fails
        with urllib.request.urlopen(server.url + "/x", timeout=5) as reply:
            assert reply.headers["Content-Encoding"] == "gzip"
            raw = reply.read()
        with pytest.raises(zlib.error, match="invalid block type"):
            gzip.decompress(raw)
        records = [request.response for request in server.wait_for_requests(4)]
        assert {r.fault for r in records if r} == {Fault.MALFORMED_CONTENT_CODING}


def test_a_handler_may_return_the_fault() -> None:
    with (
        HTTPServer(handler=lambda request: Fault.MALFORMED_CONTENT_CODING) as server,
        pytest.raises(requests.exceptions.ContentDecodingError),
    ):
        requests.get(server.url, timeout=5)
