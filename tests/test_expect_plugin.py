"""Expectations through the pytest plugin: what a user sees when the fixture's teardown fails.

The reports are asserted line for line (``*`` only where ports vary), so a change to their
format is a deliberate one.
"""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

# Hypothesis's terminal summary costs ~1.4 s per inner run, and these inner tests do not use it.
FAST = ("-p", "no:randomly", "-p", "no:hypothesispytest")

# Sends exactly the given header fields, so the reports below are fixed text.
SEND = """
import http.client


def send(server, method, target, headers):
    conn = http.client.HTTPConnection(server.host, server.port, timeout=5)
    try:
        conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        for name, value in headers:
            conn.putheader(name, value)
        conn.endheaders()
        return conn.getresponse().status
    finally:
        conn.close()
"""


@pytest.fixture(autouse=True)
def _inner_ini(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(sending=SEND)


def test_an_unexpected_request_fails_the_test_with_the_near_miss_report(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        r"""
        import re
        from understudy import Subset
        from sending import send

        def test_client(http_server):
            http_server.expect("GET", "/users", query={"page": "1"}).respond(json=[])
            http_server.expect("POST", "/users", json=Subset({"name": "x"}))
            http_server.expect("GET", re.compile(r"/users/\d+"))
            http_server.expect("DELETE", "/admin")
            headers = [("Host", "api.test"), ("X-Trace", "t1")]
            assert send(http_server, "GET", "/users?page=2", headers) == 404
        """
    )
    result = pytester.runpytest(*FAST, "--tb=native")
    result.assert_outcomes(failed=1)  # a failure of the test itself, no error at teardown
    result.stdout.fnmatch_lines(
        [
            "understudy.UnexpectedRequest: No expectation matched this request:",
            "  GET /users?page=2 HTTP/1.1 from 127.0.0.1:*",
            "    Host: api.test",
            "    X-Trace: t1",
            "Nearest expectations:",
            "  1. expect('GET', '/users', query={'page': '1'}), answered 0 times",
            "       query page: expected '1', got '2'",
            "  2. expect('POST', '/users', json=Subset({'name': 'x'})), answered 0 times",
            "       method: expected 'POST', got 'GET'",
            "       json: expected Subset({'name': 'x'}), got not JSON: an empty body",
            r"  3. expect('GET', re.compile('/users/\\d+')), answered 0 times",
            r"       path: expected a match for //users/\d+/, got '/users'",
            "=* short test summary info =*",
        ],
        consecutive=True,
    )
    # the 4th nearest is left out: a wrong method and a path far from /users
    result.stdout.no_fnmatch_line("*expect('DELETE'*")


def test_unmet_expectations_fail_the_test_listing_the_nearest_requests(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        from sending import send

        def test_client(http_server):
            http_server.expect_in_order("POST", "/login").respond(json={"token": "t"})
            http_server.expect_in_order("GET", "/data", headers={"Authorization": "Bearer t"})
            http_server.expect("GET", "/flaky").respond(503).times(2).then.respond(200)
            http_server.expect("GET", "/health")  # unlimited: never verified
            assert send(http_server, "POST", "/login", [("Host", "api.test")]) == 200
            assert send(http_server, "GET", "/flaky", [("Host", "api.test")]) == 503
        """
    )
    result = pytester.runpytest(*FAST, "--tb=native")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            (
                "understudy.UnmetExpectation: 2 expectations of "
                "<understudy.HTTPServer http://127.0.0.1:* stopped> not met:"
            ),
            (
                "  1. expect_in_order('GET', '/data', headers={'Authorization': 'Bearer t'}), "
                "answered 0 times of 1"
            ),
            "    nearest requests received:",
            "      GET /flaky",
            "        path: expected '/data', got '/flaky'",
            "        header Authorization: expected 'Bearer t', got nothing",
            "      POST /login",
            "        method: expected 'GET', got 'POST'",
            "        path: expected '/data', got '/login'",
            "        header Authorization: expected 'Bearer t', got nothing",
            "  2. expect('GET', '/flaky'), answered 1 time (at least 3 expected)",
            "    nearest requests received:",
            "      GET /flaky - matches",
            "      POST /login",
            "        method: expected 'GET', got 'POST'",
            "        path: expected '/flaky', got '/login'",
            "=* short test summary info =*",
        ],
        consecutive=True,
    )


def test_an_unmet_expectation_with_no_request_at_all(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_client(http_server):
            http_server.expect("POST", "/hooks/deploy").respond(204).once()
        """
    )
    result = pytester.runpytest(*FAST, "--tb=native")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            (
                "understudy.UnmetExpectation: 1 expectation of "
                "<understudy.HTTPServer http://127.0.0.1:* stopped> not met:"
            ),
            "  1. expect('POST', '/hooks/deploy'), answered 0 times of 1",
            "    no request was received",
            "=* short test summary info =*",
        ],
        consecutive=True,
    )


def test_the_tests_own_failure_comes_first_with_the_unmet_expectation_as_a_note(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        def test_client(http_server):
            http_server.expect("GET", "/a").once()
            assert 1 == 2
        """
    )
    result = pytester.runpytest(*FAST)
    result.assert_outcomes(failed=1)  # not also an error at teardown
    result.stdout.fnmatch_lines(
        [
            ">       assert 1 == 2",
            "E       assert 1 == 2",
            (
                "E       understudy: <understudy.HTTPServer http://127.0.0.1:* stopped> also "
                "recorded UnmetExpectation: 1 expectation of "
                "<understudy.HTTPServer http://127.0.0.1:* stopped> not met:"
            ),
            "E         1. expect('GET', '/a'), answered 0 times of 1",
            "E           no request was received",
        ],
        consecutive=True,
    )


def test_assert_requested_points_at_the_tests_line(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from sending import send

        def test_client(http_server):
            http_server.expect("GET", "/a")
            send(http_server, "GET", "/a", [("Host", "api.test")])
            http_server.assert_requested("GET", "/b")
        """
    )
    result = pytester.runpytest(*FAST)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            '>       http_server.assert_requested("GET", "/b")',
            (
                "E       understudy.UnmetExpectation: expected 'GET', '/b' to be requested "
                "at least once; it was requested 0 times"
            ),
            "E         nearest requests received:",
            "E           GET /a",
            "E             path: expected '/b', got '/a'",
            "",
            "test_assert_requested_points_at_the_tests_line.py:6: UnmetExpectation",
        ],
        consecutive=True,
    )


def test_met_expectations_and_failures_checked_in_the_test_pass(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import pytest
        from understudy import UnexpectedRequest
        from sending import send

        def test_met(http_server):
            http_server.expect_in_order("GET", "/a")
            http_server.expect("GET", "/b").respond(503).then.respond(200)
            assert send(http_server, "GET", "/a", [("Host", "h")]) == 200
            assert send(http_server, "GET", "/b", [("Host", "h")]) == 503
            assert send(http_server, "GET", "/b", [("Host", "h")]) == 200

        def test_checked(http_server):
            assert send(http_server, "GET", "/nothing", [("Host", "h")]) == 404
            with pytest.raises(UnexpectedRequest, match="No expectation is set"):
                http_server.check()
        """
    )
    pytester.runpytest(*FAST).assert_outcomes(passed=2)


def test_allow_unmatched_from_the_marker_and_the_options_fixture(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture
        def http_server_options(request):
            return {"allow_unmatched": "lenient" in request.node.name}
        """
    )
    pytester.makepyfile(
        """
        import pytest
        from sending import send

        @pytest.mark.understudy(allow_unmatched=True)
        def test_marker(http_server, smtp_server):
            # every server of the test gets the option that takes it: the SMTP server has no
            # notion of an unmatched request, and is left alone
            assert send(http_server, "GET", "/nothing-here", [("Host", "a.test")]) == 404
            assert http_server.wait_for_requests(1)[0].target == "/nothing-here"

        @pytest.mark.understudy(allow_unmatched=True)
        def test_factory(make_http_server):
            server = make_http_server()
            assert send(server, "GET", "/nothing-here", [("Host", "a.test")]) == 404

        def test_options_lenient(http_server):
            assert send(http_server, "GET", "/nothing-here", [("Host", "a.test")]) == 404

        def test_options_strict(http_server):
            assert send(http_server, "GET", "/nothing-here", [("Host", "a.test")]) == 404
        """
    )
    result = pytester.runpytest(*FAST)
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*understudy.UnexpectedRequest: No expectation matched this request:",
            "*  GET /nothing-here HTTP/1.1 from 127.0.0.1:*",
        ]
    )
    result.stdout.fnmatch_lines(["FAILED *::test_options_strict*"])


def test_an_expectation_met_too_often_fails_the_test_with_the_counts(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        from sending import send

        def test_client(http_server):
            http_server.expect("DELETE", "/session").respond(204).once()
            for _ in range(3):
                send(http_server, "DELETE", "/session", [("Host", "a.test")])
        """
    )
    result = pytester.runpytest(*FAST, "--tb=native")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            (
                "understudy.ExpectationExceeded: 1 expectation of "
                "<understudy.HTTPServer http://127.0.0.1:* stopped> met too often:"
            ),
            (
                "  1. expect('DELETE', '/session'): expected at most 1, got 3; "
                "the extra requests (answered 404):"
            ),
            "      DELETE /session from 127.0.0.1:* at *:*:*.*",
            "      DELETE /session from 127.0.0.1:* at *:*:*.*",
            "=* short test summary info =*",
        ],
        consecutive=True,
    )
