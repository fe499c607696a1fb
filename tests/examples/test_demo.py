"""``make demo`` runs: every section prints its exchanges, and a failure makes the exit non-zero."""

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # where `python -m examples.demo` is run from

SECTION_TITLES = [
    "[1] urllib.request -> wsgiref's demo_app",
    "[2] requests -> a small WSGI app",
    "[3] httpx.AsyncClient -> an ASGI app with lifespan",
    "[4] httpx.Client -> a handler callable",
    "[5] requests over HTTPS (the test CA) -> faults",
    "[6] feedparser -> a directory of feeds",
    "[7] logging.config -> SMTP, syslog (UDP, TCP, Unix) and socket/datagram receivers",
    "[8] python -m build, twine upload, pip install -> understudy.fakes.PyPIServer",
    "[9] httpx with http2=True -> HTTP/2 streams",
    "[10] websockets client -> WebSocket stubs and an ASGI app",
]


def run_python(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )


def test_the_demo_runs_every_section_and_exits_0() -> None:
    done = run_python("-m", "examples.demo")

    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr == ""
    for title in SECTION_TITLES:
        assert title in done.stdout
    # Both sides of the exchanges are shown, and nothing failed.
    assert "server received  POST /notes" in done.stdout
    assert "client got       201 Created" in done.stdout
    assert "lifespan after stop():  ['startup', 'shutdown']" in done.stdout
    assert "status 301, now at" in done.stdout
    assert (
        "SyslogServer (TCP ) received  facility=1 severity=3 msg='disk /var is full'" in done.stdout
    )
    assert "server accepted  my_pkg_name-1.0-py3-none-any.whl  from ada" in done.stdout
    assert "installed: {'My_Pkg.Name': '1.0'}" in done.stdout
    assert "FAILED" not in done.stdout
    assert "attempts recorded: 3; TLS: TLSv1.3" in done.stdout
    assert "server received 10 requests on 1 connection(s), versions ['2']" in done.stdout
    assert "client got 200 HTTP/2: 'over h2'" in done.stdout
    assert "closed by the server: 1000 'market closed'" in done.stdout
    assert "then ConnectionClosedError" in done.stdout
    assert done.stdout.rstrip().splitlines()[-1].startswith("OK: 10 sections")


def test_the_demo_exits_1_when_a_section_fails() -> None:
    script = textwrap.dedent(
        """
        import sys
        from examples._report import Report
        from examples.demo import Section, main

        def wrong(report: Report) -> None:
            report.check(1 + 1 == 3, "arithmetic to be broken")

        def broken(report: Report) -> None:
            raise RuntimeError("the section blew up")

        sys.exit(main([Section("wrong", wrong), Section("broken", broken)]))
        """
    )
    done = run_python("-c", script)

    assert done.returncode == 1
    assert "FAILED: expected arithmetic to be broken" in done.stdout
    assert "RuntimeError: the section blew up" in done.stdout
    assert "FAILED: 2 of 2 sections" in done.stdout
