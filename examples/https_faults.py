"""Section: requests over HTTPS with understudy's test CA, retrying through injected faults.

The server speaks TLS with a certificate from the process's test CA (made with trustme, in
memory); the client trusts it through ``understudy.tls.ca_bundle()``. An expectation resets the
connection twice before it answers, and urllib3's ``Retry`` (mounted on a requests session)
gets through; a stalled response times the client out. Each request is in the journal, faults
included.
"""

from __future__ import annotations

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

import understudy
import understudy.tls

from ._report import Got, Report, take_request

TITLE = "requests over HTTPS (the test CA) -> faults: reset twice, then 200; a stall"


def got(response: requests.Response) -> Got:
    return Got(
        response.status_code,
        response.reason,
        response.headers.get("Content-Type", ""),
        response.content,
        (),
    )


def run(report: Report) -> None:
    """Fetch through two connection resets with retries, then time out on a stalled response."""
    with understudy.HTTPServer(tls=True) as server, requests.Session() as session:
        report.server("HTTPServer(tls=True)", server)
        server.expect("GET", "/orders").fault(understudy.Fault.CONNECTION_RESET).times(
            2
        ).then.respond(json=[{"id": 1}])
        server.expect("GET", "/stalled").fault(understudy.Fault.STALL)
        # Per request: requests lets REQUESTS_CA_BUNDLE in the environment override
        # session.verify (requests #3829), and machines often set it.
        verify = understudy.tls.ca_bundle()
        retries = Retry(total=3, backoff_factor=0, allowed_methods=None)
        session.mount("https://", HTTPAdapter(max_retries=retries))

        reply = session.get(server.url + "/orders", verify=verify, timeout=5)
        attempts = server.wait_for_requests(3)
        report.note(
            "server.expect('GET', '/orders').fault(Fault.CONNECTION_RESET).times(2)"
            ".then.respond(json=[...])"
        )
        report.exchange(
            'session.get(server.url + "/orders", verify=ca_bundle())  # Retry(total=3)',
            attempts[-1],
            got(reply),
            headers=(),
        )
        tls = attempts[-1].tls
        version = tls.version if tls else None
        report.line(f"attempts recorded: {len(attempts)}; TLS: {version}", indent=2)
        report.check(reply.json() == [{"id": 1}], "the third attempt to get the orders")
        report.check(len(attempts) == 3, "three attempts in the journal: two reset, one answered")
        report.check(tls is not None and tls.alpn_protocol == "http/1.1", "ALPN http/1.1")

        report.note("server.expect('GET', '/stalled').fault(Fault.STALL)  # head, then nothing")
        server.clear()
        try:
            session.get(server.url + "/stalled", verify=verify, timeout=0.5)
        except requests.ConnectionError as error:
            outcome = f"{type(error).__name__}: read timed out"
        else:
            outcome = "an answer"
        received = take_request(server)
        report.line(f">>> session.get(server.url + '/stalled', timeout=0.5)  ->  {outcome}")
        report.line(f"server received  {received.method} {received.target}", indent=2)
        report.check(outcome.endswith("read timed out"), "the client to give up on the stall")
        report.check(received.target == "/stalled", "the stalled request in the journal")
