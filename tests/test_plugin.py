"""The pytest plugin, tested as a user meets it: through pytester."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]


pytestmark = pytest.mark.usefixtures("inner_ini")


def test_http_server_is_fresh_started_and_stopped_for_each_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import urllib.request, urllib.error
        import pytest
        seen = []

        @pytest.mark.parametrize("n", [1, 2])
        def test_fresh(http_server, n):
            assert http_server.running
            assert http_server.requests == []
            http_server.expect("GET", "/ping").respond(200, body="pong")
            with urllib.request.urlopen(http_server.url + "/ping", timeout=5) as reply:
                assert reply.read() == b"pong"
            seen.append(http_server)

        def test_all_stopped():
            assert len(seen) == 2 and seen[0] is not seen[1]
            assert not any(server.running for server in seen)
        """
    )
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=3)


def test_a_fixtures_server_is_freed_once_its_test_is_torn_down(pytester: pytest.Pytester) -> None:
    """The plugin lets go of a test's servers with the test: a session does not keep every
    server (and its journal) it ever started, and one with no cycle is freed at once."""
    pytester.makepyfile(
        """
        import gc, weakref, urllib.request
        import pytest
        from understudy import Response
        refs = []

        @pytest.fixture(scope="module", autouse=True)
        def no_cyclic_gc():
            gc.disable()
            yield
            gc.enable()

        def test_fixture(http_server):
            http_server.expect("GET", "/x").respond(204)
            urllib.request.urlopen(http_server.url + "/x", timeout=5).close()
            refs.append(weakref.ref(http_server))

        def test_factory(make_http_server):
            server = make_http_server(response=Response(200, body="ok"))
            urllib.request.urlopen(server.url + "/x", timeout=5).close()
            refs.append(weakref.ref(server))

        @pytest.fixture
        def broken(http_server):
            refs.append(weakref.ref(http_server))
            raise RuntimeError("a fixture after the server fails")

        def test_setup_fails(broken):
            pass

        def test_all_freed():
            assert len(refs) == 3
            assert [ref() for ref in refs[:2]] == [None, None]
            # (pytest keeps the setup error's traceback, which holds the server, in a cycle)
            gc.collect()
            assert refs[2]() is None
        """
    )
    pytester.runpytest_subprocess("-p", "no:randomly").assert_outcomes(passed=3, errors=1)


def test_a_handler_error_fails_the_test_itself_with_its_own_traceback(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import urllib.request, urllib.error
        import pytest

        def test_client(make_http_server):
            def handler(request):
                assert request.headers["x-token"] == "secret", "the client lost its token"
                return "ok"
            server = make_http_server(handler=handler)
            with pytest.raises(urllib.error.HTTPError) as raised:
                urllib.request.urlopen(server.url, timeout=5)
            raised.value.close()
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)  # a failure of the test, not an error at teardown
    result.stdout.fnmatch_lines(
        [
            "    def handler(request):",
            ">*assert request.headers*the client lost its token*",
            "E*KeyError: 'x-token'",
        ]
    )


def test_the_tests_own_failure_is_reported_first(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import urllib.request, urllib.error
        import pytest

        def test_client(make_http_server):
            def handler(request):
                raise RuntimeError("server side")
            server = make_http_server(handler=handler)
            with pytest.raises(urllib.error.HTTPError) as raised:
                urllib.request.urlopen(server.url, timeout=5)
            raised.value.close()
            assert 1 == 2, "client side"
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*AssertionError: client side*", "*RuntimeError: server side*"])


def test_options_fixture_and_marker(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        import pytest, understudy

        @pytest.fixture
        def http_server_options():
            return {"response": understudy.Response(200, body="from conftest")}
        """
    )
    pytester.makepyfile(
        """
        import urllib.request
        import pytest

        def test_conftest_options(http_server):
            with urllib.request.urlopen(http_server.url, timeout=5) as reply:
                assert reply.read() == b"from conftest"

        @pytest.mark.understudy(host="localhost")
        def test_marker_options(http_server):
            assert http_server.host == "localhost"
            with urllib.request.urlopen(http_server.url, timeout=5) as reply:
                assert reply.read() == b"from conftest"

        def test_factory_options_win(make_http_server):
            import understudy
            server = make_http_server(response=understudy.Response(201))
            with urllib.request.urlopen(server.url, timeout=5) as reply:
                assert reply.status == 201
        """
    )
    pytester.runpytest("--strict-markers").assert_outcomes(passed=3)


def test_the_marker_refuses_a_positional_argument_that_names_no_server(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.understudy("localhost")
        def test_it(http_server):
            pass
        """
    )
    result = pytester.runpytest()
    result.stdout.fnmatch_lines(["*takes server classes (or their names)*not 'localhost'*"])
    assert result.ret != 0


def test_the_marker_can_name_the_servers_it_is_for(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(
        """
        import pytest
        import understudy

        pytestmark = pytest.mark.understudy(host="localhost")  # every server of the module

        @pytest.mark.understudy(understudy.SyslogServer, transport="tcp")
        @pytest.mark.understudy("SMTPServer", hostname="mail.test")
        def test_each_kind_gets_its_own(syslog_server, smtp_server, tcp_server):
            assert syslog_server.transport == "tcp"
            assert smtp_server.hostname == "mail.test"
            assert tcp_server.running  # transport= and hostname= did not reach it
            assert {syslog_server.host, smtp_server.host, tcp_server.host} == {"localhost"}

        @pytest.mark.understudy(understudy.HTTPServer, host="localhost")
        def test_a_class_covers_its_subclasses(make_http_server, pypi_server):
            assert make_http_server().host == "localhost"
            assert pypi_server.host == "localhost"  # a PyPIServer is an HTTPServer

        @pytest.mark.understudy(host="::1")
        def test_nearer_markers_win(tcp_server):
            assert tcp_server.host == "::1"  # over the module's "localhost"
        """
    )
    pytester.runpytest("--strict-markers").assert_outcomes(passed=3)


def test_the_http_server_fixtures_errors_are_named_as_understudy_exports_them(
    pytester: pytest.Pytester,
) -> None:
    """A run whose only server is the ``http_server`` fixture's (which imports the server's
    own module, not ``understudy.HTTPServer``) names its errors ``understudy.X`` too."""
    pytester.makepyfile(
        """
        import urllib.request, urllib.error

        def test_client(http_server):
            try:
                urllib.request.urlopen(http_server.url + "/nowhere", timeout=5).close()
            except urllib.error.HTTPError as error:
                error.close()
        """
    )
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["E   understudy.UnexpectedRequest: No expectation matched*"])


def test_every_default_options_fixture_serves_a_session_scoped_fixture(
    pytester: pytest.Pytester,
) -> None:
    """Each ``*_server_options`` default is session-scoped (an empty read-only mapping), so a
    fixture of any scope may ask for it, as for ``http_server_options``."""
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture(scope="session")
        def every_default(http_server_options, smtp_server_options, pypi_server_options,
                          tcp_server_options, syslog_server_options):
            return [http_server_options, smtp_server_options, pypi_server_options,
                    tcp_server_options, syslog_server_options]
        """
    )
    pytester.makepyfile(
        """
        import pytest

        def test_defaults(every_default):
            assert all(options == {} for options in every_default)
            for options in every_default:
                with pytest.raises(TypeError):
                    options["host"] = "localhost"
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)


def test_an_options_fixture_that_returns_no_mapping_says_what_to_return(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture
        def http_server_options():
            {"host": "localhost"}  # (its `return` forgotten)

        @pytest.fixture
        def tcp_server_options():
            return "echo"
        """
    )
    pytester.makepyfile(
        """
        def test_http(http_server):
            pass

        def test_factory(make_http_server):
            make_http_server()

        def test_tcp(tcp_server):
            pass
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(errors=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            (
                "E*understudy.ConfigurationError: the http_server_options fixture must return "
                "a dict of HTTPServer's keyword arguments, such as {'host': 'localhost'}, not "
                "None (a `return` missing?)"
            ),
            (
                "E*understudy.ConfigurationError: the tcp_server_options fixture must return "
                "a dict of TCPServer's keyword arguments, such as {'host': 'localhost'}, not "
                "'echo'"
            ),
        ]
    )


def test_a_factory_given_its_options_as_a_dict_says_to_name_each_one(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import pytest
        import understudy

        def test_it(make_http_server, make_smtp_server):
            with pytest.raises(
                understudy.ConfigurationError,
                match=r"HTTPServer\\(\\) takes its options as keywords.*name each one.*host=",
            ):
                make_http_server({"host": "localhost"})
            with pytest.raises(understudy.ConfigurationError, match=r"SMTPServer\\(\\) takes"):
                make_smtp_server("mail.test")
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_a_fixture_imported_with_the_plugin_not_loaded_says_how_to_load_it(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest("from understudy.pytest_plugin import *")
    pytester.makepyfile(
        """
        def test_it(http_server):
            pass
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:understudy")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["E * RuntimeError: *not loaded*-p understudy.pytest_plugin*pytest_plugins*"]
    )
