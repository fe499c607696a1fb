"""Wrong keyword arguments: a ConfigurationError naming the closest valid option, everywhere."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest

import understudy
from understudy import (
    ConfigurationError,
    HTTPServer,
    LogRecordServer,
    Proxy,
    Server,
    SMTPServer,
    SyslogServer,
    TCPServer,
    UDPServer,
    UnixDatagramServer,
    UnixStreamServer,
)
from understudy._keywords import checked_keywords, unknown_keyword
from understudy.fakes import PyPIServer

pytest_plugins = ["pytester"]

PUBLIC_SERVERS: list[type[Server]] = [
    HTTPServer,
    SMTPServer,
    TCPServer,
    UDPServer,
    UnixStreamServer,
    UnixDatagramServer,
    SyslogServer,
    LogRecordServer,
    Proxy,
    PyPIServer,
]


def test_every_public_server_class_is_covered() -> None:
    exported = {
        value
        for value in vars(understudy).values()
        if isinstance(value, type) and issubclass(value, Server) and value is not Server
    }
    assert exported | {PyPIServer} == set(PUBLIC_SERVERS)


@pytest.mark.parametrize("make", PUBLIC_SERVERS, ids=lambda make: make.__name__)
def test_a_typo_names_the_closest_option(make: Callable[..., Server]) -> None:
    # a typo of each class's own first option, made by doubling its last letter
    name = next(iter(inspect.signature(make).parameters))
    with pytest.raises(ConfigurationError) as raised:
        make(**{name + name[-1]: None})
    assert str(raised.value) == (
        f"{make.__name__}() got an unexpected keyword argument {name + name[-1]!r}: "
        f"did you mean `{name}`?"
    )
    assert not isinstance(raised.value, TypeError)


@pytest.mark.parametrize(
    ("make", "options", "message"),
    [
        (SMTPServer, {"startls": True}, "did you mean `starttls`?"),
        (HTTPServer, {"reponse": None}, "did you mean `response`?"),
        (TCPServer, {"ecko": True}, "did you mean `echo`?"),
        (SyslogServer, {"transprot": "tcp"}, "did you mean `transport`?"),
        (PyPIServer, {"token": ["t"]}, "did you mean `tokens`?"),
        (PyPIServer, {"allow_unmached": True}, "did you mean `allow_unmatched`?"),
        (
            LogRecordServer,
            {"zzz": 1},
            "it takes conditions=, host=, journal_size=, max_frame_size=, port=, seed=, transport=",
        ),
    ],
)
def test_typos_in_words(make: type[Server], options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        make(**options)
    assert str(raised.value).endswith(message)


def test_positional_options_and_missing_ones_are_configuration_errors() -> None:
    with pytest.raises(ConfigurationError, match=r"HTTPServer\(\) takes its options as keywords, "):
        HTTPServer(understudy.Response(200))  # type: ignore[call-arg, arg-type]
    with pytest.raises(ConfigurationError, match=r"Proxy\(\): missing a required argument"):
        Proxy()  # type: ignore[call-arg]


def test_serve_directory_names_the_closest_option(tmp_path: Any) -> None:
    with pytest.raises(ConfigurationError, match=r"did you mean `sidecar_headers`\?"):
        HTTPServer().serve_directory("/", tmp_path, sidecar_header=False)  # type: ignore[call-arg]


class _Own(HTTPServer):
    def __init__(self, *, flavour: str = "plain") -> None:
        if flavour == "raise":
            raise TypeError("raised inside __init__")
        super().__init__()


def test_a_subclass_gets_the_check_and_its_own_type_errors_go_through() -> None:
    with pytest.raises(ConfigurationError, match=r"_Own\(\) .* 'flavor': did you mean `flavour`"):
        _Own(flavor="x")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="raised inside __init__") as raised:
        _Own(flavour="raise")
    assert not isinstance(raised.value, ConfigurationError)
    assert _Own().host == "127.0.0.1"


def test_the_check_keeps_the_signature() -> None:
    assert "starttls" in inspect.signature(SMTPServer).parameters
    assert inspect.signature(HTTPServer.serve_directory).parameters["index"].default is None

    @checked_keywords
    def f(*, alpha: int = 1) -> int:
        return alpha

    assert f(alpha=2) == 2
    with pytest.raises(ConfigurationError, match=r"f\(\) .* 'alhpa': did you mean `alpha`"):
        f(alhpa=2)  # type: ignore[call-arg]


def test_unknown_keyword_is_none_when_all_are_valid() -> None:
    assert unknown_keyword("f()", ["a"], {"a", "b"}) is None


@pytest.mark.parametrize(
    "make",
    [
        lambda: UDPServer(tls=True),  # type: ignore[arg-type]
        lambda: UnixDatagramServer(tls=True),  # type: ignore[arg-type]
        lambda: SyslogServer(transport="udp", tls=True),
        lambda: SyslogServer(transport="unix", tls=True),
    ],
    ids=["UDPServer", "UnixDatagramServer", "SyslogServer-udp", "SyslogServer-unix"],
)
def test_every_datagram_server_refuses_tls_saying_dtls_is_not_supported(make: Any) -> None:
    with pytest.raises(ConfigurationError, match=r"DTLS.* not offered"):
        make()


def test_a_log_record_server_takes_no_tls() -> None:
    # LogRecordServer has no tls= at all (logging's handlers speak no TLS), over UDP or TCP
    with pytest.raises(ConfigurationError, match=r"LogRecordServer\(\) .* 'tls': it takes "):
        LogRecordServer(transport="udp", tls=True)  # type: ignore[call-arg]


FACTORIES = [
    ("make_http_server", "reponse", "response"),
    ("make_smtp_server", "startls", "starttls"),
    ("make_tcp_server", "ecko", "echo"),
    ("make_udp_server", "handlr", "handler"),
    ("make_unix_stream_server", "ecko", "echo"),
    ("make_unix_datagram_server", "handlr", "handler"),
    ("make_syslog_server", "transprot", "transport"),
    ("make_log_record_server", "transprot", "transport"),
    ("make_proxy", "upstreams", "upstream"),
    ("make_pypi_server", "token", "tokens"),
]


def test_every_factory_names_the_closest_option(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    tests = "\n".join(
        f"def test_{factory}({factory}):\n"
        f"    with pytest.raises(ConfigurationError, match='did you mean `{right}`'):\n"
        f"        {factory}({wrong}=1)\n"
        for factory, wrong, right in FACTORIES
    )
    pytester.makepyfile(f"import pytest\nfrom understudy import ConfigurationError\n\n{tests}")
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=len(FACTORIES))


def test_the_marker_names_the_closest_option(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(
        """
        import pytest
        import understudy

        @pytest.mark.understudy(startls=True)
        def test_for_every_server(smtp_server):
            pass

        @pytest.mark.understudy(understudy.SMTPServer, startls=True)
        def test_for_a_class(smtp_server):
            pass

        @pytest.mark.understudy(understudy.SMTPServer, echo=True)
        def test_an_option_of_another_class(smtp_server):
            pass

        @pytest.mark.understudy(echo=True, hostname="mail.test")
        def test_each_server_takes_its_own(smtp_server, tcp_server):
            assert smtp_server.hostname == "mail.test"
            assert tcp_server.running
        """
    )
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=1, errors=3)
    result.stdout.fnmatch_lines(
        [
            (
                "*ConfigurationError: @pytest.mark.understudy(...) got an unexpected keyword "
                "argument 'startls': did you mean `starttls`?"
            ),
            (
                "*ConfigurationError: @pytest.mark.understudy(SMTPServer, ...) got an unexpected "
                "keyword argument 'startls': did you mean `starttls`?"
            ),
            (
                "*ConfigurationError: @pytest.mark.understudy(SMTPServer, ...) got an unexpected "
                "keyword argument 'echo': it takes auth=, *"
            ),
        ]
    )
