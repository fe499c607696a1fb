"""How to use understudy from ``unittest``: ``self.enterContext(understudy.HTTPServer(...))``.

``enterContext`` (Python 3.11) starts the server and registers its stop as a cleanup, so each
test gets its own server and a handler's exception is reported as an error of the test. This is
the shape of CPython's own ``test_logging`` servers, with a handler that is a test method. The
same holds for a WebSocket stub (``expect_websocket``), and in an ``IsolatedAsyncioTestCase``
with ``await self.enterAsyncContext(...)`` (the server is then started and stopped without
blocking the test's event loop).

Reference (built by ``make docs`` into site/; every attribute, with its type): ``HTTPServer`` and
``Request``: docs/reference/http.md; the lifecycle: docs/reference/servers.md.
"""

# This how-to shows unittest's own assertions (self.assertEqual...), not pytest's bare assert.
# ruff: noqa: PT009

import threading
import unittest
import urllib.request

import requests
import websockets.asyncio.client
import websockets.sync.client

import understudy


class ClientTestCase(unittest.TestCase):
    def setUp(self) -> None:
        self.handled = threading.Event()
        self.server = self.enterContext(understudy.HTTPServer(handler=self.handle_request))

    def handle_request(self, request: understudy.Request) -> str:
        # Runs in understudy's worker pool for every request this test's client sends.
        self.handled.set()
        return f"hello, {request.query.get('name', 'stranger')}"

    def test_the_client_is_greeted(self) -> None:
        with urllib.request.urlopen(self.server.url + "/?name=ada", timeout=5.0) as reply:
            self.assertEqual(reply.read(), b"hello, ada")
        self.assertTrue(self.handled.is_set())

    def test_the_server_records_the_request(self) -> None:
        urllib.request.urlopen(self.server.url + "/ping", timeout=5.0).close()
        [request] = self.server.wait_for_requests(1)
        self.assertEqual(request.path, "/ping")
        self.assertEqual(request.headers["User-Agent"][:14], "Python-urllib/")


class WebSocketTestCase(unittest.TestCase):
    def setUp(self) -> None:
        self.server = self.enterContext(understudy.HTTPServer())
        self.server.expect_websocket("/chat").send("welcome").echo()

    def test_the_client_chats(self) -> None:
        with websockets.sync.client.connect(self.server.ws_url + "/chat") as client:
            self.assertEqual(client.recv(timeout=5.0), "welcome")
            client.send("hi")
            self.assertEqual(client.recv(timeout=5.0), "hi")
        [connection] = self.server.wait_for_websockets(1, match=lambda c: c.closed)
        self.assertEqual([message.data for message in connection.received], ["hi"])


class AsyncClientTestCase(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self) -> None:
        self.server = await self.enterAsyncContext(understudy.HTTPServer())
        self.server.expect_websocket("/feed").send({"price": 42})

    async def test_the_client_reads_the_feed(self) -> None:
        async with websockets.asyncio.client.connect(self.server.ws_url + "/feed") as client:
            self.assertEqual(await client.recv(), '{"price": 42}')
        [connection] = await self.server.wait_for_websockets_async(1, match=lambda c: c.closed)
        self.assertEqual(connection.request.path, "/feed")


class HandlerErrorTestCase(unittest.TestCase):
    def test_an_exception_in_the_handler_is_an_error_of_the_test(self) -> None:
        class Inner(unittest.TestCase):
            def test_client(self) -> None:
                server = self.enterContext(understudy.HTTPServer(handler=self.handle))
                requests.get(server.url, timeout=5.0).raise_for_status()

            def handle(self, request: understudy.Request) -> str:
                raise LookupError(f"no page at {request.path}")

        result = unittest.TestResult()
        Inner("test_client").run(result)
        # The client got a 500 (raise_for_status raised), and the cleanup that stops the server
        # re-raised the handler's LookupError: both are errors of the test.
        errors = "\n".join(text for _, text in result.errors)
        self.assertIn("500 Server Error", errors)
        self.assertIn("LookupError: no page at /", errors)


if __name__ == "__main__":
    unittest.main()
