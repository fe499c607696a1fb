"""pytest fixtures for TLS (re-exported by :mod:`understudy.pytest_plugin`).

The TLS module (trustme, cryptography) and the HTTP server are imported when a test first asks
for one of these fixtures.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from ._fixtures import current_item, options, started

if TYPE_CHECKING:
    from ._http._server import HTTPServer
    from ._tls import CertificateAuthority

__all__ = ["https_server", "tls_ca"]


@pytest.fixture(scope="session")
def tls_ca() -> CertificateAuthority:
    """The test CA behind every understudy TLS server (:data:`understudy.tls.ca`).

    ``tls_ca.client_context()`` and ``tls_ca.ca_bundle()`` make a client trust it;
    ``tls_ca.issue_client_cert("alice")`` gives a client certificate for mutual TLS.
    """
    from ._tls import authority  # noqa: PLC0415 - TLS is loaded when first used

    return authority()


@pytest.fixture
def https_server(http_server_options: dict[str, Any]) -> Iterator[HTTPServer]:
    """A started :class:`understudy.HTTPServer` serving HTTPS, fresh for each test.

    Its certificate is signed by the test CA (``tls_ca``) for localhost, 127.0.0.1 and ::1;
    ``tls=understudy.TLS(...)`` in ``http_server_options`` or ``@pytest.mark.understudy``
    changes the settings. After the test: stopped, then checked.
    """
    from . import HTTPServer  # noqa: PLC0415 - imported when first used

    item = current_item()
    given = options(item, http_server_options, HTTPServer)
    if not given.get("tls"):
        given["tls"] = True
    yield from started(item, HTTPServer(**given))
