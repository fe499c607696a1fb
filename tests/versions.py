"""Running a behaviour test over HTTP/1.1 and HTTP/2: the ``http`` fixture (tests/conftest.py).

A test that takes ``http`` runs twice: once with an HTTP/1.1 client, once over prior-knowledge
h2c (httpx with ``http1=False, http2=True``), against a server made by ``http.server(...)``
(which offers both versions). The requests are made with httpx either way, so the two runs
differ only in the protocol on the wire.
"""

from __future__ import annotations

from typing import Any

import httpx

from understudy import HTTPServer

__all__ = ["Version"]


class Version:
    """One HTTP version a test runs over: ``"1.1"`` or ``"2"``."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"Version({self.name!r})"

    def server(self, **options: Any) -> HTTPServer:
        """An HTTPServer offering both versions (the client decides which is spoken)."""
        options.setdefault("http_versions", ("1.1", "2"))
        return HTTPServer(**options)

    def client(self, **options: Any) -> httpx.Client:
        """An httpx client speaking this version (HTTP/2: prior knowledge over plain TCP)."""
        options.setdefault("timeout", 5.0)
        return httpx.Client(http1=self.name == "1.1", http2=self.name == "2", **options)

    def async_client(self, **options: Any) -> httpx.AsyncClient:
        options.setdefault("timeout", 5.0)
        return httpx.AsyncClient(http1=self.name == "1.1", http2=self.name == "2", **options)

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One request on a fresh client, taking requests' keywords too (data=bytes, stream=...)."""
        data = kwargs.pop("data", None)
        if isinstance(data, bytes | str):
            kwargs["content"] = data
        elif data is not None:
            kwargs["data"] = data
        if "allow_redirects" in kwargs:
            kwargs["follow_redirects"] = kwargs.pop("allow_redirects")
        kwargs.pop("stream", None)
        kwargs.setdefault("follow_redirects", True)  # (as requests does)
        options = {name: kwargs.pop(name) for name in ("verify", "cert") if name in kwargs}
        with self.client(timeout=kwargs.pop("timeout", 5.0), **options) as client:
            response = client.request(method, url, **kwargs)
            response.read()
        assert response.http_version == ("HTTP/2" if self.name == "2" else "HTTP/1.1")
        return response

    def answered_500(self, server: HTTPServer) -> None:
        """Run ``server`` (``with``: its ``check()`` raises at the end) for one GET, which it
        answers 500, as its journal says too."""
        with server:
            reply = self.get(server.url)
            assert reply.status_code == 500
            [request] = server.requests
            assert request.response is not None
            assert request.response.status_code == 500

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def head(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("HEAD", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", url, **kwargs)
