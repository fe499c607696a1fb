"""pytest fixtures for the SMTP server (re-exported by :mod:`understudy.pytest_plugin`).

The SMTP server (and aiosmtpd) is imported when a test first asks for one of these fixtures.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import pytest

from ._fixtures import NO_OPTIONS, current_item, factory, options, started

if TYPE_CHECKING:
    from ._factories import MakeSMTPServer
    from ._smtp import SMTPServer

__all__ = ["make_smtp_server", "smtp_server", "smtp_server_options"]


@pytest.fixture(scope="session")
def smtp_server_options() -> Mapping[str, Any]:
    """Keyword arguments for the ``smtp_server`` fixtures; override it in a conftest (at any
    scope). The default, for the session, is an empty read-only mapping.

    Example: ``return {"auth": {"user": "secret"}, "smtputf8": True}``.
    """
    return NO_OPTIONS


@pytest.fixture
def smtp_server(smtp_server_options: Mapping[str, Any]) -> Iterator[SMTPServer]:
    """A started :class:`understudy.SMTPServer`, fresh for each test.

    Options come from ``smtp_server_options`` and ``@pytest.mark.understudy(...)``. After the
    test: stopped, then checked (a handler's exception fails the test).
    """
    from . import SMTPServer  # noqa: PLC0415 - imported when first used

    item = current_item()
    yield from started(item, SMTPServer(**options(item, smtp_server_options, SMTPServer)))


@pytest.fixture
def make_smtp_server(
    request: pytest.FixtureRequest, smtp_server_options: Mapping[str, Any]
) -> Iterator[MakeSMTPServer]:
    """A factory: ``make_smtp_server(**options)`` returns a started :class:`~understudy.SMTPServer`.

    Its options update ``smtp_server_options``. Every server it made is stopped and checked
    after the test.
    """
    from . import SMTPServer  # noqa: PLC0415 - imported when first used

    yield from factory(request, SMTPServer, smtp_server_options)
