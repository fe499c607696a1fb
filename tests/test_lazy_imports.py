"""Importing understudy, or loading its pytest plugin, loads no server (issue 20).

pytest loads the plugin in every run where understudy is installed, including projects that
never use a fixture of it; ``import understudy`` names the public API without loading it. Each
check runs in a fresh interpreter and reads its ``sys.modules``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

#: Modules a run that uses no server must not load: every protocol, the fakes, TLS.
HEAVY = (
    "understudy._http",
    "understudy._smtp",
    "understudy._sockets",
    "understudy._conditions",
    "understudy._server",
    "understudy._tls",
    "understudy.fakes",
    "cryptography",
    "trustme",
    "aiosmtpd",
    "httptools",
    "packaging.metadata",
)


def _modules_after(code: str) -> set[str]:
    """The modules a fresh interpreter has loaded once it has run ``code``."""
    program = f"{textwrap.dedent(code)}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, "-c", program],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    return set(json.loads(done.stdout.splitlines()[-1]))


def _heavy(modules: set[str]) -> list[str]:
    return sorted(
        name for name in modules if any(name == m or name.startswith(m + ".") for m in HEAVY)
    )


def test_import_understudy_loads_no_server() -> None:
    modules = _modules_after("import understudy")
    assert _heavy(modules) == []
    assert "asyncio" not in modules


def test_dir_lists_every_public_name_before_any_is_read() -> None:
    """``dir(understudy)`` lists them all, loading none. Checked in a fresh interpreter: in this
    one other tests have read every name, and a name read is a module global, listed with or
    without the module's ``__dir__`` (so tests/test_public_api.py's check cannot fail here)."""
    modules = _modules_after(
        """
        import understudy
        missing = set(understudy.__all__) - set(dir(understudy))
        assert not missing, sorted(missing)
        """
    )
    assert _heavy(modules) == []


def test_importing_the_plugin_loads_no_server() -> None:
    modules = _modules_after("import pytest\nimport understudy.pytest_plugin")
    assert "understudy.pytest_plugin" in modules
    assert _heavy(modules) == []
    # Nor what only a fixture in use needs: the Make* types (for annotations), the keyword
    # checks of the marker, the errors.
    assert (
        sorted(modules & {"understudy._factories", "understudy._keywords", "understudy._errors"})
        == []
    )


def test_the_make_types_are_read_from_the_plugin_when_asked_for() -> None:
    modules = _modules_after(
        """
        import understudy.pytest_plugin as plugin
        from understudy import _factories
        assert plugin.MakeHTTPServer is _factories.MakeHTTPServer
        assert "MakeSMTPServer" in plugin.__all__
        assert not hasattr(plugin, "pytest_plugins")  # what pytest asks a plugin module
        """
    )
    assert "understudy._factories" in modules


def test_a_pytest_run_that_uses_no_fixture_loads_no_server(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The inner run loads the plugin of this tree (SRC), whatever the environment's
    ``PYTHONPATH`` (a relative one, or none, would find the installed copy)."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]))
    pytester.makeini("[pytest]\naddopts = -p no:hypothesispytest\n")
    pytester.makepyfile(
        """
        import json, sys

        def test_nothing_of_understudy(pytestconfig):
            assert pytestconfig.pluginmanager.has_plugin("understudy")
            plugin = sys.modules["understudy.pytest_plugin"].__file__
            with open("modules.json", "w") as out:
                json.dump({"plugin": plugin, "modules": sorted(sys.modules)}, out)
        """
    )
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=1)
    loaded = json.loads((pytester.path / "modules.json").read_text())
    assert Path(loaded["plugin"]).is_relative_to(SRC)
    assert _heavy(set(loaded["modules"])) == []


def test_a_name_loads_its_own_protocol_only() -> None:
    modules = _modules_after("import understudy\nunderstudy.SMTPServer")
    assert "understudy._smtp._server" in modules
    assert not any(name.startswith("understudy._http") for name in modules)
    assert "understudy.fakes" not in modules


def test_a_fixture_loads_its_server_when_a_test_asks_for_it(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\naddopts = -p no:hypothesispytest\n")
    pytester.makepyfile(
        """
        import sys

        def test_first():
            assert "understudy._smtp" not in sys.modules

        def test_smtp(smtp_server):
            assert type(smtp_server).__module__ == "understudy"
            assert "understudy._smtp" in sys.modules
            assert "understudy._http._server" not in sys.modules
        """
    )
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=2)


def test_the_make_types_load_no_server() -> None:
    """They are protocols over typed options (``_factories``): a type checker reads what they
    make; importing one loads nothing. (They were ``Callable[..., X]``, made on first read.)"""
    modules = _modules_after(
        """
        import inspect
        from typing import Protocol
        from understudy.pytest_plugin import MakeHTTPServer, MakePyPIServer, MakeSMTPServer
        for make, server in [
            (MakeHTTPServer, "HTTPServer"),
            (MakeSMTPServer, "SMTPServer"),
            (MakePyPIServer, "PyPIServer"),
        ]:
            assert Protocol in make.__mro__
            assert inspect.signature(make.__call__).return_annotation == server
        """
    )
    assert _heavy(modules) == []


def test_a_missing_dependency_is_named() -> None:
    """``import understudy`` works without a server's dependency; reading the server's name
    raises ModuleNotFoundError naming the package to install."""
    code = """
        import sys
        sys.modules["httptools"] = None  # as if it were not installed
        import understudy
        understudy.SMTPServer
        try:
            understudy.HTTPServer
        except ModuleNotFoundError as error:
            print("ERROR", error.name, str(error))
        """
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(SRC)},
        timeout=60,
        check=True,
    )
    line = done.stdout.strip()
    assert line.startswith("ERROR httptools "), line
    assert "understudy.HTTPServer" in line
    assert "pip install httptools" in line


def test_the_http_server_loads_what_only_some_servers_use_when_they_use_it() -> None:
    """WireMock stubs and admin API, record and replay, directories, WSGI, ASGI, TLS's
    certificate authority: loaded by the servers that use them, not by ``understudy.HTTPServer``."""
    optional = (
        "understudy._http._admin",
        "understudy._http._wiremock",
        "understudy._core.wiremock",
        "understudy._http._record",
        "understudy._http._directory",
        "understudy._http._wsgi",
        "understudy._http._asgi",
        "understudy.fakes",
        "trustme",
        "cryptography",
    )
    modules = _modules_after("import understudy\nunderstudy.HTTPServer")
    assert "understudy._http._server" in modules
    assert sorted(modules.intersection(optional)) == []
    modules = _modules_after(
        """
        import understudy
        server = understudy.HTTPServer(admin=True, asgi=lambda *args: None)
        server.serve_directory("/files", ".")
        """
    )
    assert {"understudy._http._admin", "understudy._http._asgi", "understudy._http._directory"} <= (
        modules
    )


#: What a plain HTTP server (no ``tls=``, no ``conditions=``, no near miss yet) does not load:
#: TLS's certificate authority and its files, the shaping of connections,
#: gzip (until a body is gzip-coded), the distance of a near miss, ``email`` (the Date field is
#: IMF-fixdate, written here) and ``http`` (the reason phrases are a table here). (``ssl``
#: itself is loaded by asyncio.)
PLAIN_HTTP_SERVER_DEFERS = (
    "understudy._tls_authority",
    "understudy._tls_client",
    "understudy._conditions._connection",
    "understudy._conditions._pipe",
    "understudy._core.conditions",
    "rapidfuzz",
    "email",
    "http",
    "tempfile",
    "gzip",
    "shutil",
    "trustme",
    "cryptography",
)


def _deferred(modules: set[str]) -> list[str]:
    return sorted(
        name
        for name in modules
        if any(name == m or name.startswith(m + ".") for m in PLAIN_HTTP_SERVER_DEFERS)
    )


def test_the_http_server_loads_no_tls_conditions_email_or_http() -> None:
    modules = _modules_after("import understudy\nunderstudy.HTTPServer")
    assert "understudy._http._server" in modules
    assert _deferred(modules) == []


def test_a_plain_http_server_serving_a_request_loads_none_of_them_either() -> None:
    modules = _modules_after(
        """
        import urllib.request
        import understudy
        with understudy.HTTPServer(response=understudy.Response(body="hi")) as server:
            with urllib.request.urlopen(server.url + "/", timeout=10) as reply:
                assert reply.read() == b"hi"
                assert reply.reason == "OK"
                assert reply.headers["Date"].endswith(" GMT")
        """
    )
    # (urllib.request itself imports email and http.client, and tempfile: those are the
    # client's; what the server adds is checked by the test above.)
    client = {"email", "http", "tempfile", "shutil"}
    assert [name for name in _deferred(modules) if name.partition(".")[0] not in client] == []


def test_what_is_deferred_loads_when_used() -> None:
    """Conditions, TLS and a near miss load their modules when a server first uses them."""
    modules = _modules_after(
        """
        import understudy
        understudy.Conditions(latency=0.01)
        with understudy.HTTPServer(tls=True, conditions=understudy.Conditions(latency=0.0)):
            pass
        from understudy._core.distance import string_distance
        assert string_distance("GET", "PUT") > 0
        """
    )
    assert {"understudy._conditions._options", "trustme", "tempfile", "rapidfuzz"} <= modules


#: What naming ``understudy.HTTPServer`` does not load: what only a made server needs (its
#: host, router, site and journal, ``_config``'s checks, the request criteria and matching,
#: the Response) or a started one (asyncio and the runtime's loop thread and worker pool, the
#: connections and httptools, binding, conditions, TLS). The class and its bases are all it
#: loads, so a program pays for asyncio when it makes a server, not when it names one.
#: (``json`` is not listed: ``_modules_after`` imports it to report.)
HTTP_SERVER_NAME_DEFERS = (
    "asyncio",
    "concurrent.futures",
    "logging",
    "socket",
    "ssl",
    "datetime",
    "random",
    "httptools",
    "understudy._runtime",
    "understudy._workers",
    "understudy._listeners",
    "understudy._conditions",
    "understudy._tls",
    "understudy._tls_settings",
    "understudy._handshake",
    "understudy._journal",
    "understudy._waits",
    "understudy._core.matching",
    "understudy._http._config",
    "understudy._http._hosts",
    "understudy._http._connection",
    "understudy._http._serving",
    "understudy._http._site",
    "understudy._http._routing",
    "understudy._http._expect",
    "understudy._http._criteria",
    "understudy._http._report",
    "understudy._http._request",
    "understudy._http._response",
    "understudy._ws._site",
    "understudy._ws._records",
)


def test_naming_the_http_server_loads_neither_asyncio_nor_what_a_made_server_needs() -> None:
    modules = _modules_after("import understudy\nunderstudy.HTTPServer")
    assert "understudy._http._server" in modules
    assert sorted(modules.intersection(HTTP_SERVER_NAME_DEFERS)) == []
    # ...and a server made and started loads them (the names are real modules).
    made = _modules_after(
        """
        import understudy
        with understudy.HTTPServer(response=understudy.Response(body="hi")):
            pass
        """
    )
    used = {"asyncio", "concurrent.futures", "httptools", "understudy._runtime"}
    used |= {"understudy._http._connection", "understudy._journal", "understudy._http._site"}
    assert used <= made


def test_serving_imports_nothing_of_understudy_on_the_loop() -> None:
    """What serving needs is imported in the caller's thread at start() (and at
    set_conditions()), not by the loop when first used: under pytest, which rewrites its
    plugins' packages, an import parses the module with ``ast``, and CPython 3.11 does not make
    that safe against another thread doing the same (gh-106905: a SystemError, seen once)."""
    code = """
        import sys, threading, urllib.request
        import understudy, understudy.tls

        on_loop = []

        class Watch:
            def find_spec(self, name, path=None, target=None):
                if name.startswith("understudy") and threading.current_thread().name == (
                    "understudy-loop"
                ):
                    on_loop.append(name)
                return None

        sys.meta_path.insert(0, Watch())
        conditions = understudy.Conditions(latency=0.001)
        with understudy.HTTPServer(
            response=understudy.Response(204), http_versions=("1.1", "2"), conditions=conditions
        ) as server:
            urllib.request.urlopen(server.url, timeout=5).close()
            server.set_conditions(None)
            urllib.request.urlopen(server.url, timeout=5).close()
        context = understudy.tls.client_context()
        with understudy.HTTPServer(response=understudy.Response(204), tls=True) as server:
            urllib.request.urlopen(server.url, timeout=5, context=context).close()
        assert on_loop == [], on_loop
    """
    assert "understudy._http._serving" in _modules_after(code)
