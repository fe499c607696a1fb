"""What an HTTP server is told to answer: expectations, WireMock mappings, directories.

:class:`Stubbing` is a base of :class:`~understudy.HTTPServer` (``_server.py``, the face): the
part of its test API that sets up answers (:meth:`~Stubbing.expect`,
:meth:`~Stubbing.expect_in_order`, :meth:`~Stubbing.load_mappings`,
:meth:`~Stubbing.serve_directory`) and asserts on what came (:meth:`~Stubbing.assert_requested`).
Each method checks its arguments and hands them to the server's
:class:`~understudy._http._routing.Router`; what they need (the criteria, the near-miss report,
the directory host) is imported when first used, so naming ``understudy.HTTPServer`` loads
none of it (issue 20). Nothing else under ``_http/`` imports this module.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Unpack

from .._keywords import checked_keywords
from ._options import DirectoryOptions, directory_signature

if TYPE_CHECKING:
    from .._core.matching import Matcher
    from .._journal import Journal
    from ._criteria import RequestCriteria
    from ._expect import Expectation
    from ._request import Request
    from ._routing import Router

__all__ = ["Stubbing"]


class Stubbing:
    """The stubbing API of :class:`~understudy.HTTPServer`: what to answer, and what came."""

    # (set by HTTPServer.__init__; declared for the type checker)
    _router: Router

    if TYPE_CHECKING:

        @property
        def _journal(self) -> Journal[Request]: ...

    def load_mappings(self, path: str | os.PathLike[str]) -> None:
        """Answer as the WireMock stub mappings in ``path`` say; each becomes an expectation.

        Args:
            path: a mapping file (one mapping, or ``{"mappings": [...]}``), or a directory: its
                ``mappings/`` subdirectory if it has one, else the directory itself, is read for
                ``*.json``; ``bodyFileName`` is read from the ``__files/`` directory inside or
                beside it.

        Raises:
            ConfigurationError: a file that is not JSON, or a field that is unknown, not
                supported, or of the wrong type (the message names the file and the field).
        """
        self._router.load_mappings(path)

    def serve_directory(
        self,
        prefix: str,
        root: str | os.PathLike[str],
        **options: Unpack[DirectoryOptions],
    ) -> None:
        """Serve the files under ``root`` at the URL path ``prefix``.

        The options (keyword-only) are ``in_file_headers``, ``sidecar_headers``,
        ``suffix_headers``, ``index``, ``generated_fields`` (``"none"``: a file is sent with
        only the fields it declares, no generated validators), ``content_coding`` (every file
        coded so, ``"gzip"``...) and ``content_codings`` (each file coded as the request's
        Accept-Encoding prefers, among these; RFC 9110 §12.5.3); see
        :class:`understudy._http._directory.DirectoryHost`. Requests whose
        path starts with ``prefix`` are answered from the directory (404 for a missing file);
        a later call with a longer prefix takes precedence over a shorter one.

        Raises:
            ConfigurationError: ``prefix`` does not start with ``/``, ``root`` is not a
                directory, or an option is unknown (naming the closest one) or malformed.
        """
        if not isinstance(prefix, str) or not prefix.startswith("/"):
            from .._errors import ConfigurationError  # noqa: PLC0415 - only for a mistake

            raise ConfigurationError(f"prefix must be a URL path starting with '/', not {prefix!r}")
        from ._directory import DirectoryHost  # noqa: PLC0415 - loaded when first used

        self._router.mount(prefix, DirectoryHost(prefix, root, **options))

    serve_directory.__signature__ = directory_signature(serve_directory)  # type: ignore[attr-defined]
    serve_directory = checked_keywords(serve_directory)

    def expect(
        self,
        method: str | None = None,
        path: Matcher | None = None,
        **criteria: Unpack[RequestCriteria],
    ) -> Expectation:
        """Expect a request of this shape; answer it as the returned expectation says.

        Every criterion left out accepts anything. Matchers are an exact ``str``, a compiled
        ``re.Pattern`` (which must match the whole value), or a predicate.

        Args:
            method: the method, case-insensitive (``"GET"``).
            path: the percent-decoded path, without the query (``"/users/7"``).
            **criteria: keyword-only: ``query``, ``headers``, ``body``, ``json``, ``form`` and
                ``match``, as :class:`~understudy.RequestCriteria` describes them.

        Returns:
            The :class:`~understudy.Expectation`: call ``respond(...)``/``respond_with(...)``
            on it (200 with no body until then). See its docs for sequences and verification,
            and the module docs of precedence: the most recently added matching expectation
            answers.

        Raises:
            ConfigurationError: an argument of the wrong type, saying what is accepted, or a
                criterion that does not exist (naming the closest one).
        """
        import understudy._http._criteria as criteria_  # noqa: PLC0415 - (absolute: faster)

        shape = criteria_.make_shape(method, path, criteria, what="expect()")
        return self._router.expect(shape, ordered=False)

    def expect_in_order(
        self,
        method: str | None = None,
        path: Matcher | None = None,
        **criteria: Unpack[RequestCriteria],
    ) -> Expectation:
        """Like :meth:`expect`, for a client whose call order matters.

        Expectations added with ``expect_in_order`` answer one after the other, in the order
        they were added, each once unless given ``times(n)``; a request that fits a later one
        before the earlier ones are used is unexpected. Each must be used up by the end of the
        test, or ``check()`` raises :class:`~understudy.UnmetExpectation`.
        """
        from ._criteria import make_shape  # noqa: PLC0415 - loaded when first used

        shape = make_shape(method, path, criteria, what="expect_in_order()")
        return self._router.expect(shape, ordered=True)

    def assert_requested(
        self,
        method: str | None = None,
        path: Matcher | None = None,
        *,
        times: int | None = None,
        **criteria: Unpack[RequestCriteria],
    ) -> list[Request]:
        """Assert the journal holds requests of this shape.

        Args:
            method: the method, case-insensitive, as for :meth:`expect`.
            path: the percent-decoded path, as for :meth:`expect`.
            times: how many exactly; ``None`` (the default) means at least one.
            **criteria: keyword-only, as :class:`~understudy.RequestCriteria` describes them.

        Returns:
            The matching requests, oldest first.

        Raises:
            UnmetExpectation: fewer came than asked for (none, with ``times=None``); the
                message lists the nearest requests received and how each differed.
            ExpectationExceeded: more than ``times`` came; the message says the counts
                ("expected at most 1, got 3") and lists the extra requests.
            ConfigurationError: a malformed or unknown criterion, as for :meth:`expect`, or
                ``times`` neither ``None`` nor an int of 0 or more.
        """
        __tracebackhide__ = True
        from ._criteria import make_shape  # noqa: PLC0415 - loaded when first used
        from ._report import differences, requested_failure  # noqa: PLC0415 - (so is this)

        shape = make_shape(method, path, criteria, what="assert_requested()", takes=("times",))
        if times is not None and (
            not isinstance(times, int) or isinstance(times, bool) or times < 0
        ):
            from .._errors import ConfigurationError  # noqa: PLC0415 - only for a mistake

            raise ConfigurationError(
                f"assert_requested() takes times=None (at least once) or an int of 0 or more, "
                f"not {times!r}"
            )
        received = [r for r in self._journal.snapshot() if r.error is None]
        found = [r for r in received if not differences(shape, r)]
        if (times is None and found) or len(found) == times:
            return found
        raise requested_failure(shape, found, received, times)
