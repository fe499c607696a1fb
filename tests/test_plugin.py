"""The pytest plugin, tested as a user meets it: through pytester."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True)
def _inner_ini(pytester: pytest.Pytester) -> None:
    # Hypothesis's end-of-run summary costs a second per inner run; these runs do not use it.
    pytester.makeini(
        "[pytest]\n"
        "asyncio_default_fixture_loop_scope = function\n"
        "addopts = -p no:hypothesispytest\n"
    )


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
            return {"response": understudy.Response(200, "from conftest")}
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


def test_the_marker_refuses_positional_arguments(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.understudy("localhost")
        def test_it(http_server):
            pass
        """
    )
    result = pytester.runpytest()
    result.stdout.fnmatch_lines(["*keyword arguments only*host='localhost'*"])
    assert result.ret != 0
