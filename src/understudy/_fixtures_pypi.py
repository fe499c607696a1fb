"""pytest fixtures for the fake PyPI (re-exported by :mod:`understudy.pytest_plugin`).

The fake PyPI (and ``packaging``) is imported when a test first asks for one of these fixtures.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import pytest

from ._fixtures import NO_OPTIONS, current_item, factory, options, started

if TYPE_CHECKING:
    from ._factories import MakePyPIServer
    from .fakes import PyPIServer

__all__ = ["make_pypi_server", "pypi_server", "pypi_server_options"]


@pytest.fixture(scope="session")
def pypi_server_options() -> Mapping[str, Any]:
    """Keyword arguments for the ``pypi_server`` fixtures; override it in a conftest (at any
    scope). The default, for the session, is an empty read-only mapping.

    Example: ``return {"users": {"ada": "s3cret"}, "tokens": ["pypi-test-token"]}``.
    """
    return NO_OPTIONS


@pytest.fixture
def pypi_server(pypi_server_options: Mapping[str, Any]) -> Iterator[PyPIServer]:
    """A started :class:`understudy.fakes.PyPIServer`, fresh and empty for each test.

    Options come from ``pypi_server_options`` and ``@pytest.mark.understudy(...)``. Point
    twine at ``pypi_server.upload_url`` and pip at ``pypi_server.index_url``. After the test:
    stopped, then checked.
    """
    from .fakes import PyPIServer  # noqa: PLC0415 - imported when first used

    item = current_item()
    yield from started(item, PyPIServer(**options(item, pypi_server_options, PyPIServer)))


@pytest.fixture
def make_pypi_server(
    request: pytest.FixtureRequest, pypi_server_options: Mapping[str, Any]
) -> Iterator[MakePyPIServer]:
    """A factory: ``make_pypi_server(**options)`` returns a started ``PyPIServer``.

    Its options update ``pypi_server_options``. Every server it made is stopped and checked
    after the test.
    """
    from .fakes import PyPIServer  # noqa: PLC0415 - imported when first used

    yield from factory(request, PyPIServer, pypi_server_options)
