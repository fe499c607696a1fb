"""pytest fixtures for the sockets servers (re-exported by :mod:`understudy.pytest_plugin`)."""

from __future__ import annotations

__all__: list[str] = []
