"""Section: a small WSGI app of our own, a JSON API for notes, answering ``requests``.

The app is plain PEP 3333: it reads the POSTed body from ``wsgi.input`` and answers JSON. It
stands in for whatever service a client under test talks to.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any
from wsgiref.types import StartResponse, WSGIEnvironment

import requests

import understudy

from ._report import Got, Report, take_request

TITLE = "requests -> a small WSGI app: a JSON API whose POST reads wsgi.input"


class NotesAPI:
    """``GET /notes`` lists the notes; ``POST /notes`` with ``{"text": ...}`` adds one (201)."""

    def __init__(self) -> None:
        self.notes: list[dict[str, Any]] = []

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        method, path = environ["REQUEST_METHOD"], environ["PATH_INFO"]
        if path == "/notes" and method == "GET":
            return self._json(start_response, "200 OK", self.notes)
        if path == "/notes" and method == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            sent = json.loads(environ["wsgi.input"].read(length))
            note = {"id": len(self.notes) + 1, "text": str(sent["text"])}
            self.notes.append(note)
            return self._json(
                start_response, "201 Created", note, [("Location", f"/notes/{note['id']}")]
            )
        return self._json(start_response, "404 Not Found", {"error": f"no {method} {path}"})

    @staticmethod
    def _json(
        start_response: StartResponse,
        status: str,
        value: object,
        headers: list[tuple[str, str]] | None = None,
    ) -> list[bytes]:
        body = json.dumps(value).encode()
        start_response(
            status,
            [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
            + (headers or []),
        )
        return [body]


def got(response: requests.Response, *show: str) -> Got:
    """What requests got, in the demo's terms, with the response fields named in ``show``."""
    return Got(
        response.status_code,
        response.reason,
        response.headers.get("Content-Type", ""),
        response.content,
        tuple((name, response.headers[name]) for name in show if name in response.headers),
    )


def run(report: Report) -> None:
    """List, add, list again, over one keep-alive ``requests.Session``."""
    app = NotesAPI()
    with understudy.HTTPServer(wsgi=app) as server, requests.Session() as session:
        report.server("HTTPServer(wsgi=NotesAPI())", server)
        notes = server.url + "/notes"

        reply = session.get(notes, timeout=5.0)
        report.exchange('session.get(server.url + "/notes")', take_request(server), got(reply))
        report.check(reply.status_code == 200 and reply.json() == [], "an empty list at first")

        reply = session.post(notes, json={"text": "buy milk"}, timeout=5.0)
        received = take_request(server)
        report.exchange(
            'session.post(server.url + "/notes", json={"text": "buy milk"})',
            received,
            got(reply, "Location"),
            headers=("Content-Type", "Content-Length"),
        )
        report.check(received.json() == {"text": "buy milk"}, "the server to receive the JSON")
        report.check(reply.status_code == 201, "201 Created")
        report.check(reply.headers.get("Location") == "/notes/1", "Location: /notes/1")

        reply = session.get(notes, timeout=5.0)
        report.exchange('session.get(server.url + "/notes")', take_request(server), got(reply))
        report.check(reply.json() == [{"id": 1, "text": "buy milk"}], "the note in the list")
