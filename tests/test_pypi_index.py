"""The simple index (PEP 503 / 691 / 592 / 658 / 714 / 700) and the JSON API, over plain HTTP."""

from __future__ import annotations

import hashlib
import html
import json
import socket
import weakref
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest

import understudy.tls
from gc_tools import cyclic_gc_off, holders
from understudy import ConfigurationError
from understudy.fakes import PyPIFile, PyPIServer
from understudy.fakes._pypi._index import JSON_TYPE, V1_HTML_TYPE, negotiate

PIP_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, "
    "text/html; q=0.01"
)
WHEEL = "my_pkg_name-1.0-py3-none-any.whl"
SDIST = "my_pkg_name-1.0.tar.gz"


@pytest.fixture
def pypi(pypi_server: PyPIServer, tiny_dists: list[Path]) -> PyPIServer:
    pypi_server.preload(*tiny_dists)
    return pypi_server


@pytest.fixture
def client(pypi: PyPIServer) -> Any:
    with httpx.Client(base_url=pypi.url, timeout=5.0) as client:
        yield client


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        (None, "text/html"),
        ("", "text/html"),
        ("*/*", "text/html"),
        (PIP_ACCEPT, JSON_TYPE),
        ("application/vnd.pypi.simple.v1+html", V1_HTML_TYPE),
        ("application/*", V1_HTML_TYPE),
        ("text/html;q=0.5, application/vnd.pypi.simple.v1+json;q=0.6", JSON_TYPE),
        ("text/html;q=0.5, application/vnd.pypi.simple.v1+json;q=0.5", "text/html"),
        ("*/*;q=0.1, text/html;q=0", V1_HTML_TYPE),
        ("application/vnd.pypi.simple.latest+json, text/*;q=0.2", "text/html"),
        ("application/json", None),
        ("text/html;q=0", None),
        ("image/png, text/plain", None),
    ],
)
def test_negotiation_picks_the_best_offer(accept: str | None, chosen: str | None) -> None:
    assert negotiate(accept) == chosen


def test_the_project_page_in_html(pypi: PyPIServer, client: httpx.Client) -> None:
    reply = client.get("/simple/my-pkg-name/")

    assert reply.status_code == 200
    assert reply.headers["content-type"] == "text/html; charset=utf-8"
    assert reply.headers["vary"] == "Accept"
    page = reply.text
    assert '<meta name="pypi:repository-version" content="1.1">' in page
    wheel_sha = named(pypi, WHEEL).sha256
    assert f'href="../../packages/{WHEEL}#sha256={wheel_sha}"' in page
    assert 'data-requires-python="&gt;=3.8"' in page
    metadata_sha = hashlib.sha256(named(pypi, WHEEL).metadata or b"").hexdigest()
    assert f'data-core-metadata="sha256={metadata_sha}"' in page
    assert f'data-dist-info-metadata="sha256={metadata_sha}"' in page
    assert "data-yanked" not in page
    # The sdist has no metadata file.
    [sdist_link] = [line for line in page.splitlines() if f">{SDIST}</a>" in line]
    assert "data-core-metadata" not in sdist_link


def test_the_project_page_in_json(pypi: PyPIServer, client: httpx.Client) -> None:
    reply = client.get("/simple/my-pkg-name/", headers={"Accept": PIP_ACCEPT})

    assert reply.headers["content-type"] == JSON_TYPE
    page = reply.json()
    assert page["meta"] == {"api-version": "1.1"}
    assert page["name"] == "my-pkg-name"
    assert page["versions"] == ["1.0"]
    by_name = {entry["filename"]: entry for entry in page["files"]}
    wheel = by_name[WHEEL]
    assert wheel["url"] == f"../../packages/{WHEEL}"
    assert wheel["hashes"] == {"sha256": named(pypi, WHEEL).sha256}
    assert wheel["requires-python"] == ">=3.8"
    assert wheel["yanked"] is False
    assert wheel["core-metadata"] == {"sha256": named(pypi, WHEEL).metadata_digests["sha256"]}
    assert wheel["dist-info-metadata"] == wheel["core-metadata"]
    assert wheel["size"] == named(pypi, WHEEL).size
    assert wheel["upload-time"].endswith("Z")
    assert by_name[SDIST]["core-metadata"] is False


def test_format_in_the_query_overrides_accept(client: httpx.Client) -> None:
    reply = client.get("/simple/", params={"format": JSON_TYPE}, headers={"Accept": "text/html"})
    assert reply.json()["projects"] == [{"name": "My_Pkg.Name"}]


def test_the_root_lists_projects(client: httpx.Client) -> None:
    page = client.get("/simple/").text
    assert '<a href="my-pkg-name/">My_Pkg.Name</a>' in page
    assert client.get("/simple").headers["location"] == "/simple/"


def test_nothing_acceptable_gets_406(client: httpx.Client) -> None:
    reply = client.get("/simple/my-pkg-name/", headers={"Accept": "application/json"})
    assert reply.status_code == 406
    assert JSON_TYPE in reply.text


@pytest.mark.parametrize("asked", ["My_Pkg.Name/", "my_pkg.name/", "MY-PKG-NAME/", "my-pkg-name"])
def test_a_name_that_is_not_normalised_is_redirected(client: httpx.Client, asked: str) -> None:
    reply = client.get(f"/simple/{asked}", params={"page": "1"})

    assert reply.status_code == 301
    assert reply.headers["location"] == "/simple/my-pkg-name/?page=1"  # the query is kept
    assert client.get(f"/simple/{asked}", follow_redirects=True).status_code == 200


@pytest.mark.parametrize(
    ("asked", "location"),
    [
        ("/simple/Foo%20Bar/", "/simple/foo%20bar/"),
        ("/simple/A%0D%0AX-Evil:%201/", "/simple/a%0D%0Ax-evil:%201/"),
        ("/pypi/my-pkg-name/1.0%0D%0A/json", "/pypi/My_Pkg.Name/1.0%0D%0A/json"),
    ],
)
def test_a_redirect_percent_encodes_what_the_path_held_encoded(
    pypi: PyPIServer, client: httpx.Client, asked: str, location: str
) -> None:
    reply = client.get(asked)

    assert (reply.status_code, reply.headers["location"]) == (301, location)
    assert "x-evil" not in reply.headers
    pypi.check()  # (no handler error)


def test_an_unknown_project_gets_404(client: httpx.Client) -> None:
    assert client.get("/simple/nothing-here/").status_code == 404
    assert client.get("/pypi/nothing-here/json").json() == {"message": "Not Found"}
    assert client.get("/packages/nothing-1.0.tar.gz").status_code == 404


def test_a_yanked_release_says_so_in_both_forms(pypi: PyPIServer, client: httpx.Client) -> None:
    yanked = pypi.yank("My_Pkg.Name", "1.0.0", reason="broken <on> Windows")
    assert {f.filename for f in yanked} == {WHEEL, SDIST}

    page = client.get("/simple/my-pkg-name/").text
    assert page.count('data-yanked="broken &lt;on&gt; Windows"') == 2
    files = client.get("/simple/my-pkg-name/", headers={"Accept": JSON_TYPE}).json()["files"]
    assert {entry["yanked"] for entry in files} == {"broken <on> Windows"}
    info = client.get("/pypi/My_Pkg.Name/json").json()["info"]
    assert (info["yanked"], info["yanked_reason"]) == (True, "broken <on> Windows")

    pypi.unyank("my-pkg-name", "1.0")
    assert "data-yanked" not in client.get("/simple/my-pkg-name/").text
    with pytest.raises(ConfigurationError, match=r"no release 2\.0"):
        pypi.yank("my-pkg-name", "2.0")


def test_the_metadata_file_is_the_wheels_own(
    pypi: PyPIServer, client: httpx.Client, tiny_dists: list[Path]
) -> None:
    with zipfile.ZipFile(tiny_dists[0]) as wheel:
        expected = wheel.read("my_pkg_name-1.0.dist-info/METADATA")

    reply = client.get(f"/packages/{WHEEL}.metadata")

    assert reply.content == expected
    assert (
        hashlib.sha256(reply.content).hexdigest() == named(pypi, WHEEL).metadata_digests["sha256"]
    )
    assert client.get(f"/packages/{SDIST}.metadata").status_code == 404
    assert pypi.downloads == []  # metadata files are not downloads


def test_files_are_served_and_gets_are_recorded(
    pypi: PyPIServer, client: httpx.Client, tiny_dists: list[Path]
) -> None:
    assert client.head(f"/packages/{SDIST}").status_code == 200
    reply = client.get(f"/packages/{SDIST}", headers={"User-Agent": "tester/1"})

    assert reply.content == tiny_dists[1].read_bytes()
    [download] = pypi.wait_for_downloads(1)
    assert (download.filename, download.version, download.user_agent) == (SDIST, "1.0", "tester/1")


def test_the_json_api(pypi: PyPIServer, client: httpx.Client) -> None:
    reply = client.get("/pypi/My_Pkg.Name/json")

    assert reply.status_code == 200
    body = reply.json()
    info = body["info"]
    assert (info["name"], info["version"], info["requires_python"]) == (
        "My_Pkg.Name",
        "1.0",
        ">=3.8",
    )
    assert info["summary"] == "A tiny project that understudy's tests upload and install"
    assert info["classifiers"] == ["Programming Language :: Python :: 3"]
    assert set(body["releases"]) == {"1.0"}
    urls = {entry["filename"]: entry for entry in body["urls"]}
    assert urls[WHEEL]["packagetype"] == "bdist_wheel"
    assert urls[SDIST]["packagetype"] == "sdist"
    assert urls[WHEEL]["digests"]["sha256"] == named(pypi, WHEEL).sha256
    assert urls[WHEEL]["url"] == f"{pypi.url}/packages/{WHEEL}"
    assert client.get(urls[WHEEL]["url"]).status_code == 200

    release = client.get("/pypi/My_Pkg.Name/1.0/json").json()
    assert release["info"]["version"] == "1.0"
    assert "releases" not in release
    assert client.get("/pypi/My_Pkg.Name/9.9/json").status_code == 404


def test_the_json_api_redirects_to_the_projects_own_spelling(client: httpx.Client) -> None:
    reply = client.get("/pypi/my-pkg-name/1.0/json")
    assert reply.status_code == 301
    assert reply.headers["location"] == "/pypi/My_Pkg.Name/1.0/json"


def test_the_json_api_describes_the_latest_stable_release(
    pypi_server: PyPIServer, tmp_path: Path
) -> None:
    for version in ("1.0", "2.0", "3.0rc1"):
        write_wheel(tmp_path / f"demo-{version}-py3-none-any.whl", "demo", version)
    pypi_server.preload(tmp_path)
    pypi_server.yank("demo", "2.0")

    with httpx.Client(base_url=pypi_server.url, timeout=5.0) as client:
        body = client.get("/pypi/demo/json").json()
        page = client.get("/simple/demo/", headers={"Accept": JSON_TYPE}).json()

    assert body["info"]["version"] == "1.0"
    assert list(body["releases"]) == ["1.0", "2.0", "3.0rc1"]
    assert page["versions"] == ["1.0", "2.0", "3.0rc1"]


def test_requires_python_is_escaped(pypi_server: PyPIServer, tmp_path: Path) -> None:
    specifier = ">=3.8,<4 ' \""
    write_wheel(tmp_path / "demo-1.0-py3-none-any.whl", "demo", "1.0", requires=specifier)
    pypi_server.preload(tmp_path)

    with httpx.Client(base_url=pypi_server.url, timeout=5.0) as client:
        page = client.get("/simple/demo/").text

    assert f'data-requires-python="{html.escape(specifier)}"' in page
    assert "&gt;=3.8,&lt;4 &#x27; &quot;" in page


def named(server: PyPIServer, filename: str) -> PyPIFile:
    [file] = [f for f in server.files if f.filename == filename]
    return file


def write_wheel(path: Path, name: str, version: str, *, requires: str = ">=3.8") -> None:
    """A minimal wheel: just its METADATA (enough for an index to serve it)."""
    metadata = (
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nRequires-Python: {requires}\n"
    )
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr(f"{name}-{version}.dist-info/METADATA", metadata)


# -- HTTPServer options passed through ---------------------------------------------------------


def test_the_index_over_https(tiny_dists: list[Path]) -> None:
    with PyPIServer(tls=True) as pypi:
        pypi.preload(*tiny_dists)
        assert pypi.index_url.startswith("https://")
        reply = httpx.get(
            pypi.index_url + "my-pkg-name/",
            headers={"Accept": JSON_TYPE},
            verify=understudy.tls.client_context(),
        )
        [request] = pypi.wait_for_requests(1)
    assert reply.status_code == 200
    assert {file["filename"] for file in reply.json()["files"]} == {p.name for p in tiny_dists}
    assert request.tls is not None


def test_an_option_that_is_not_the_fakes_is_refused_naming_what_it_takes() -> None:
    with pytest.raises(
        ConfigurationError,
        match=r"PyPIServer\(\) got an unexpected keyword argument 'handler': it takes .*tls=",
    ):
        PyPIServer(handler=lambda request: "no")  # type: ignore[call-arg]


def test_a_stopped_pypi_server_the_test_drops_is_freed_at_once(tiny_dists: list[Path]) -> None:
    """Its files (kept in memory) go with it as soon as the test lets go of it: no reference
    cycle runs through it (its handler is its own method), so no wait for the cyclic GC."""
    with PyPIServer() as pypi:
        pypi.preload(*tiny_dists)
        assert httpx.get(pypi.url + f"/packages/{SDIST}", timeout=5.0).status_code == 200
        pypi.wait_for_downloads(1)
    with cyclic_gc_off():
        freed = weakref.ref(pypi)
        del pypi
        assert freed() is None, holders(freed)


def test_the_json_api_without_a_host_field_names_the_servers_port(pypi: PyPIServer) -> None:
    with socket.create_connection((pypi.host, pypi.port), timeout=5.0) as sock:
        sock.sendall(b"GET /pypi/My_Pkg.Name/json HTTP/1.0\r\n\r\n")  # (HTTP/1.0: no Host)
        answer = b"".join(iter(lambda: sock.recv(65536), b""))

    body = json.loads(answer.partition(b"\r\n\r\n")[2])
    assert {entry["url"] for entry in body["urls"]} == {
        f"{pypi.url}/packages/{WHEEL}",
        f"{pypi.url}/packages/{SDIST}",
    }
