"""pytest fixtures for the smtp servers (re-exported by :mod:`understudy.pytest_plugin`)."""

from __future__ import annotations

__all__: list[str] = []
