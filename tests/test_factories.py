"""The typed options: a type checker refuses a misspelt option to a fixture factory or a criterion.

The ``Make*`` types (``understudy.pytest_plugin.MakeHTTPServer``...) are protocols whose
``__call__`` takes ``**options: Unpack[<Server>Options]`` (PEP 692); those ``TypedDict``s are held
here to their class's signature, and mypy is run on a snippet to show that it catches the
mistakes the types are there to catch.
"""

from __future__ import annotations

import inspect
import os
import pathlib
import subprocess
import sys
import textwrap
from typing import Any

import pytest

import understudy
import understudy.pytest_plugin
from understudy import _factories
from understudy.fakes import PyPIServer

#: Each factory's type and the class it makes.
FACTORIES: dict[str, type[understudy.Server]] = {
    "MakeHTTPServer": understudy.HTTPServer,
    "MakeSMTPServer": understudy.SMTPServer,
    "MakeTCPServer": understudy.TCPServer,
    "MakeUDPServer": understudy.UDPServer,
    "MakeUnixStreamServer": understudy.UnixStreamServer,
    "MakeUnixDatagramServer": understudy.UnixDatagramServer,
    "MakeSyslogServer": understudy.SyslogServer,
    "MakeLogRecordServer": understudy.LogRecordServer,
    "MakeProxy": understudy.Proxy,
    "MakePyPIServer": PyPIServer,
}

#: Names ``_factories`` gives two types that their own modules both call ``Handler``.
_ALIASES = {"HTTPHandler": "Handler", "SMTPHandler": "Handler"}


def _written(annotation: Any) -> str:
    text = getattr(annotation, "__forward_arg__", annotation)
    assert isinstance(text, str)
    for alias, name in _ALIASES.items():
        text = text.replace(alias, name)
    return text


def test_every_factory_type_is_exported_for_annotations() -> None:
    assert set(FACTORIES) == set(_factories.__all__)
    for name in FACTORIES:
        exported = getattr(understudy.pytest_plugin, name)
        assert exported is getattr(_factories, name)
        assert getattr(exported, "_is_protocol", False), name


@pytest.mark.parametrize("name", FACTORIES)
def test_a_factorys_options_are_its_classs_keywords(name: str) -> None:
    """Name for name, type for type (as written), required where the class requires it."""
    options = getattr(_factories, name.removeprefix("Make") + "Options")
    parameters = list(inspect.signature(FACTORIES[name].__init__).parameters.values())[1:]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in parameters)
    written = {key: _written(value) for key, value in options.__annotations__.items()}
    expected = {
        p.name: p.annotation if p.default is not p.empty else f"Required[{p.annotation}]"
        for p in parameters
    }
    assert written == expected
    call = inspect.signature(getattr(_factories, name).__call__)
    assert str(call.return_annotation) == FACTORIES[name].__name__


def _mypy(tmp_path: pathlib.Path, source: str) -> list[str]:
    """mypy --strict's errors on ``source``, as ``line: message`` (imported modules silent)."""
    pytest.importorskip("mypy")
    snippet = tmp_path / "snippet.py"
    snippet.write_text(textwrap.dedent(source), encoding="utf-8")
    src = pathlib.Path(understudy.__file__).resolve().parent.parent
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--follow-imports=silent",
            "--no-error-summary",
            "--hide-error-context",
            "--config-file=",
            f"--cache-dir={tmp_path / 'cache'}",
            str(snippet),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "MYPYPATH": str(src)},
        timeout=300,
        check=False,
    )
    lines = [line for line in result.stdout.splitlines() if ": error: " in line]
    assert result.returncode == (1 if lines else 0), result.stdout + result.stderr
    return [line.split(":", 1)[1].replace(" error:", "", 1).split("  [")[0] for line in lines]


def test_mypy_refuses_a_misspelt_option_or_criterion(tmp_path: pathlib.Path) -> None:
    errors = _mypy(
        tmp_path,
        """\
        from typing import Unpack

        from understudy import HTTPServer, RequestCriteria
        from understudy.pytest_plugin import MakeHTTPServer, MakeProxy, MakeSMTPServer


        def helper(server: HTTPServer, **criteria: Unpack[RequestCriteria]) -> None:
            server.expect("GET", **criteria)


        def test(http: MakeHTTPServer, smtp: MakeSMTPServer, proxy: MakeProxy) -> None:
            http(startls=True)
            smtp(startls=True)
            http(port="80")
            proxy()
            server = http()
            server.expect("GET", "/", heaaders={})
            server.expect_in_order(quey={})
            server.assert_requested(time=1)
            helper(server, bodi=b"")
        """,
    )
    # (expect, expect_in_order and assert_requested are HTTPServer's through its base
    # Stubbing, _http/_stubbing.py, which mypy names)
    assert errors == [
        '12: Unexpected keyword argument "startls" for "__call__" of "MakeHTTPServer"',
        (
            '13: Unexpected keyword argument "startls" for "__call__" of "MakeSMTPServer"; '
            'did you mean "starttls"?'
        ),
        (
            '14: Argument "port" to "__call__" of "MakeHTTPServer" has incompatible type "str"; '
            'expected "int"'
        ),
        '15: Missing named argument "upstream" for "__call__" of "MakeProxy"',
        (
            '17: Unexpected keyword argument "heaaders" for "expect" of "Stubbing"; '
            'did you mean "headers"?'
        ),
        (
            '18: Unexpected keyword argument "quey" for "expect_in_order" of "Stubbing"; '
            'did you mean "query"?'
        ),
        (
            '19: Unexpected keyword argument "time" for "assert_requested" of "Stubbing"; '
            'did you mean "times"?'
        ),
        '20: Unexpected keyword argument "bodi" for "helper"',
    ]


def test_mypy_accepts_every_option_and_criterion_spelt_right(tmp_path: pathlib.Path) -> None:
    errors = _mypy(
        tmp_path,
        """\
        import re

        import understudy
        from understudy.fakes import PyPIServer
        from understudy.pytest_plugin import (
            MakeHTTPServer,
            MakeProxy,
            MakePyPIServer,
            MakeSMTPServer,
            MakeSyslogServer,
            MakeTCPServer,
        )


        def test(
            http: MakeHTTPServer,
            smtp: MakeSMTPServer,
            tcp: MakeTCPServer,
            syslog: MakeSyslogServer,
            proxy: MakeProxy,
            pypi: MakePyPIServer,
        ) -> None:
            server: understudy.HTTPServer = http(tls=True, allow_unmatched=True, seed=1)
            server.expect("GET", "/a", headers={"accept": re.compile("text/.*")}, json=None)
            server.expect_in_order(query={"q": "1"}, match=lambda request: True)
            server.assert_requested("GET", times=1, body=b"", form={"a": "b"})
            mail: understudy.SMTPServer = smtp(starttls=True, auth={"user": "secret"})
            echo: understudy.TCPServer = tcp(echo=True)
            logs: understudy.SyslogServer = syslog(transport="tcp")
            relay: understudy.Proxy = proxy(upstream=echo.address, journal_size=10)
            index: PyPIServer = pypi(users={"ada": "s3cret"}, anonymous=True)
        """,
    )
    assert errors == []


def test_an_unknown_criterion_names_the_closest_at_run_time() -> None:
    server = understudy.HTTPServer()
    for call, name, closest in (
        (server.expect, "heaaders", "headers"),
        (server.expect_in_order, "quey", "query"),
        (server.assert_requested, "time", "times"),
    ):
        with pytest.raises(understudy.ConfigurationError) as raised:
            call(**{name: None})
        assert str(raised.value) == (
            f"{call.__name__}() got an unexpected keyword argument {name!r}: "
            f"did you mean `{closest}`?"
        )


def test_the_criteria_are_typed_once() -> None:
    """``expect``, ``expect_in_order`` and ``assert_requested`` take the same criteria."""
    for method in (
        understudy.HTTPServer.expect,
        understudy.HTTPServer.expect_in_order,
        understudy.HTTPServer.assert_requested,
    ):
        criteria = inspect.signature(method).parameters["criteria"]
        assert criteria.kind is inspect.Parameter.VAR_KEYWORD
        assert criteria.annotation == "Unpack[RequestCriteria]"
    assert set(understudy.RequestCriteria.__annotations__) == {
        "query",
        "headers",
        "body",
        "json",
        "form",
        "match",
    }
