"""Refused: a request refused with a status code (malformed, or over a limit)."""

from __future__ import annotations

__all__ = ["Refused"]


class Refused(Exception):
    """Raised inside a parser callback to refuse a request with a status code; kept on the
    exchange it refused (``exchange.refusal``)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
