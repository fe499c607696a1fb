"""understudy from async tests: pytest-asyncio (strict mode) and anyio's pytest plugin (asyncio).

Servers live on understudy's own loop thread; an async test awaits them from its loop through
the ``_async`` twins (``async with``, ``wait_for_requests_async``). trio is not covered: the
twins await asyncio futures (see the README).
"""

from __future__ import annotations

import aiohttp
import anyio
import httpx
import pytest

from understudy import HTTPServer, Request, Response, UnexpectedRequest

pytest_plugins = ["pytester"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def shout(request: Request) -> Response:
    await anyio.sleep(0)  # an async handler runs on understudy's loop, where anyio works too
    return Response(200, body=request.body.upper())


async def exercise(server: HTTPServer) -> None:
    async with httpx.AsyncClient() as client:
        reply = await client.post(server.url + "/shout", content=b"hello")
    assert reply.text == "HELLO"
    async with aiohttp.ClientSession() as session, session.get(server.url + "/aio") as answer:
        assert answer.status == 200
    first, second = await server.wait_for_requests_async(2, timeout=5.0)
    assert (first.method, first.path, second.path) == ("POST", "/shout", "/aio")


@pytest.mark.asyncio
async def test_pytest_asyncio_async_with_and_async_waits() -> None:
    async with HTTPServer(handler=shout) as server:
        await exercise(server)
    assert not server.running


@pytest.mark.anyio
async def test_anyio_async_with_and_async_waits() -> None:
    async with HTTPServer(handler=shout) as server:
        await exercise(server)
    assert not server.running


@pytest.mark.asyncio
async def test_pytest_asyncio_with_the_fixture(http_server: HTTPServer) -> None:
    http_server.expect("POST", "/shout").respond_with(shout)
    http_server.expect("GET", "/aio").respond(200)
    await exercise(http_server)


@pytest.mark.anyio
async def test_anyio_with_the_fixture(http_server: HTTPServer) -> None:
    http_server.expect("POST", "/shout").respond_with(shout)
    http_server.expect("GET", "/aio").respond(200)
    await exercise(http_server)


@pytest.mark.anyio
async def test_anyio_a_wait_in_a_cancel_scope_is_cancelled_cleanly() -> None:
    async with HTTPServer(response=Response(204)) as server:
        with anyio.move_on_after(0.05) as scope:
            await server.wait_for_requests_async(1, timeout=30.0)
        assert scope.cancelled_caught
        async with httpx.AsyncClient() as client:
            assert (await client.get(server.url)).status_code == 204
        assert len(await server.wait_for_requests_async(1)) == 1


async def get_nothing(server: HTTPServer) -> None:
    async with server, httpx.AsyncClient() as client:
        assert (await client.get(server.url + "/nothing")).status_code == 404


@pytest.mark.asyncio
async def test_pytest_asyncio_leaving_async_with_raises_what_the_server_recorded() -> None:
    with pytest.raises(UnexpectedRequest, match="No expectation matched"):
        await get_nothing(HTTPServer())


@pytest.mark.anyio
async def test_anyio_leaving_async_with_raises_what_the_server_recorded() -> None:
    with pytest.raises(UnexpectedRequest, match="No expectation matched"):
        await get_nothing(HTTPServer())
    await get_nothing(HTTPServer(allow_unmatched=True))  # a negative test: nothing raised


@pytest.mark.parametrize(
    ("mark", "backend"),
    [("@pytest.mark.asyncio", ""), ("@pytest.mark.anyio", "anyio_backend")],
    ids=["pytest-asyncio", "anyio"],
)
def test_the_fixture_fails_an_async_test_at_teardown(
    pytester: pytest.Pytester, mark: str, backend: str
) -> None:
    pytester.makeini(
        "[pytest]\nasyncio_mode = strict\nasyncio_default_fixture_loop_scope = function\n"
    )
    pytester.makepyfile(
        f"""
        import httpx
        import pytest

        @pytest.fixture
        def anyio_backend():
            return "asyncio"

        {mark}
        async def test_strict({backend}{", " if backend else ""}http_server):
            async with httpx.AsyncClient() as client:
                assert (await client.get(http_server.url + "/nothing")).status_code == 404
            await http_server.wait_for_requests_async(1)

        {mark}
        @pytest.mark.understudy(allow_unmatched=True)
        async def test_lenient({backend}{", " if backend else ""}http_server):
            async with httpx.AsyncClient() as client:
                assert (await client.get(http_server.url + "/nothing")).status_code == 404
            await http_server.wait_for_requests_async(1)
        """
    )
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*understudy.UnexpectedRequest: No expectation matched this request:",
            "FAILED *::test_strict*",
        ]
    )
