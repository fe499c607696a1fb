"""Expectations: "when the client asks for X, answer Y", verified afterwards.

An :class:`Expectation` is a request shape (:class:`~understudy._core.matching.RequestShape`) and
a sequence of steps, each a way to answer and how many times to use it. The server's
:class:`Expectations` chooses which expectation answers a request, and writes the near-miss
report when none does (WireMock's near-miss report is the model).

Precedence, when several expectations accept a request:

1. the next expectation added with ``expect_in_order`` (only the next one: an ordered expectation
   is not used before those added in order before it are used up);
2. the other expectations, the most recently added first, so a test can override a general
   expectation from a fixture with a more specific one;
3. an expectation used up (its ``times``/``once`` spent) no longer answers.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Self, TypeVar

from .._core.matching import MISSING, RequestShape
from .._errors import ConfigurationError
from .._faults import Delay, Dribble, Fault, to_delay
from .._http2_faults import HTTP2Fault
from ._faults import DelayedHost, DribbleHost, FaultHost
from ._hosts import CannedHost, Handler, HandlerHost
from ._report import differences
from ._request import Request
from ._response import Body, Response

if TYPE_CHECKING:
    from ._site import Host

__all__ = ["Expectation", "Expectations"]

_E = TypeVar("_E", bound="Expectation")

#: How a step answers until told otherwise: 200 with no body (one for all: nothing in a
#: canned host or its response changes once made).
_NO_ANSWER_YET = CannedHost(Response(200))


class _Step:
    __slots__ = ("count", "host", "used")

    def __init__(self) -> None:
        self.host: Host = _NO_ANSWER_YET
        self.count: int | None = None
        self.used = 0


class Expectation:
    """A request shape the server expects, and how to answer it. Made by ``server.expect()``.

    Build the answer with :meth:`respond`, :meth:`respond_with` or :meth:`fault` (200 with no
    body until then), limit it with :meth:`times` / :meth:`once`, and chain answers for later
    calls with :attr:`then`::

        server.expect("GET", "/flaky").respond(503).then.respond(200, json={"ok": True})

    answers 503 to the first call and 200 to every later one. Each step answers once before
    ``then`` moves on, unless given ``times(n)``; the last step answers for ever unless limited.

    An expectation with a limit (``times``, ``once``, a ``then`` sequence, or made by
    ``expect_in_order``) is verified: used fewer times than required, it is reported as
    :class:`~understudy.UnmetExpectation` by ``check()`` and when the server stops in a ``with``
    block or fixture. Attributes: ``requests`` (those it answered), ``calls`` (their count).
    """

    def __init__(self, shape: RequestShape, *, ordered: bool, group: Expectations) -> None:
        self.shape = shape
        self.ordered = ordered
        #: Its place among the server's expectations, in the order added (1 first).
        self.number = group.added
        self._lock = group.lock
        self._steps = [_Step()]
        #: Whether a step has a count (``times``, ``then``, ordered): it is verified.
        self._limited = ordered
        if ordered:
            self._steps[0].count = 1
        self.requests: list[Request] = []
        #: Requests of its shape that came after its limit was used up (answered as unmatched).
        self.extra: list[Request] = []
        self._reported_at: int | None = None  # calls when last reported unmet
        self._extra_reported = 0  # extra requests already reported as exceeding
        #: WireMock's stub priority (1 first); ``None`` ranks as its default, 5.
        self.priority: int | None = None

    # -- building ------------------------------------------------------------------------------

    def respond(
        self,
        status_code: int = 200,
        *,
        body: Body = b"",
        json: Any = MISSING,
        headers: Mapping[str, str] | list[tuple[str, str]] | None = None,
        content_type: str | None = None,
        delay: float | Delay | None = None,
        dribble: Dribble | None = None,
        content_coding: str | None = None,
        content_codings: str | Sequence[str] | None = None,
    ) -> Self:
        """Answer with a fixed response (see :class:`~understudy.Response` for the arguments).

        ``content_coding="gzip"`` sends the body gzip-coded whatever the request says;
        ``content_codings=("br", "gzip")`` in the coding its Accept-Encoding prefers, or as it
        is when it accepts none (see :class:`~understudy.Response`).

        Args:
            delay: seconds to wait before answering (float), or a :class:`~understudy.Delay`
                drawn per request; the connection stays open meanwhile. ``None``: at once.
            dribble: send the body in pieces spread over time (:class:`~understudy.Dribble`);
                the head goes at once. ``None``: the body goes with the head.

        Raises:
            ConfigurationError: as :class:`~understudy.Response` does, a negative delay, or a
                ``dribble`` that is not a :class:`~understudy.Dribble` or with a streamed body.
        """
        response = Response(
            status_code,
            body=body,
            headers=headers,
            json=json,
            content_type=content_type,
            content_coding=content_coding,
            content_codings=content_codings,
        )
        host: Host = CannedHost(response)
        if dribble is not None:
            if not isinstance(dribble, Dribble):
                raise ConfigurationError(
                    f"dribble= takes an understudy.Dribble(chunks=..., duration=...), not "
                    f"{dribble!r}"
                )
            if not isinstance(response.body, bytes):
                raise ConfigurationError(
                    "dribble= needs a body of bytes or str, not a streamed one: a streamed body "
                    "already goes as it is produced"
                )
            host = DribbleHost(response, dribble)
        return answer_with(self, host, delay)

    def respond_with(self, handler: Handler, *, delay: float | Delay | None = None) -> Self:
        """Answer with ``handler(request)``, as ``HTTPServer(handler=...)`` does.

        The handler may return a :class:`~understudy.Fault` to fail the request.

        Args:
            delay: as for :meth:`respond`, waited before the handler is called.

        Raises:
            ConfigurationError: ``handler`` is not callable, or a negative delay.
        """
        if not callable(handler):
            raise ConfigurationError(f"respond_with takes a callable, not {handler!r}")
        return answer_with(self, HandlerHost(handler), delay)

    def fault(self, kind: Fault | HTTP2Fault, *, delay: float | Delay | None = None) -> Self:
        """Fail the request with ``kind`` instead of answering (see :class:`~understudy.Fault`
        and, for HTTP/2 faults with parameters, :class:`~understudy.HTTP2Fault`).

        A step like :meth:`respond`: ``fault(Fault.CONNECTION_RESET).times(2).then.respond(200)``
        resets the first two requests and answers the rest, the stub of a retry test. The
        failed requests are in the journal and count toward the expectation.

        Args:
            kind: the :class:`~understudy.Fault` or :class:`~understudy.HTTP2Fault`.
            delay: as for :meth:`respond`, waited before the fault.

        Raises:
            ConfigurationError: ``kind`` is neither, or a negative delay.
        """
        if not isinstance(kind, Fault | HTTP2Fault):
            raise ConfigurationError(
                f"fault() takes an understudy.Fault such as Fault.CONNECTION_RESET, or an "
                f"understudy.HTTP2Fault such as HTTP2Fault.rst_stream('CANCEL'), not {kind!r}"
            )
        return answer_with(self, FaultHost(kind), delay)

    def times(self, count: int) -> Self:
        """Use the current answer ``count`` times (then the next step, or no more)."""
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise ConfigurationError(
                f"times() takes a positive int, not {count!r}; to check that a request never "
                "came, use server.assert_requested(..., times=0)"
            )
        with self._lock:
            self._steps[-1].count = count
            self._limited = True
        return self

    def once(self) -> Self:
        """Use the current answer once: ``times(1)``."""
        return self.times(1)

    @property
    def then(self) -> Self:
        """Start the next step: what to answer after the current one is used up.

        In an ordered expectation the new step, too, answers once unless given ``times(n)``.
        """
        with self._lock:
            self._limited = True
            if self._steps[-1].count is None:
                self._steps[-1].count = 1
            step = _Step()
            if self.ordered:
                step.count = 1
            self._steps.append(step)
        return self

    # -- state (under the server's expectation lock) -----------------------------------------

    def _current(self) -> _Step | None:
        for step in self._steps:
            if step.count is None or step.used < step.count:
                return step
        return None

    @property
    def calls(self) -> int:
        """How many requests this expectation answered."""
        return len(self.requests)

    @property
    def required(self) -> int:
        """Calls needed to meet the expectation (0 for an unlimited stub)."""
        steps = self._steps
        needed = sum(step.count for step in steps if step.count is not None)
        if steps[-1].count is None and len(steps) > 1:
            needed += 1  # a sequence must reach its last step
        return needed

    @property
    def exhausted(self) -> bool:
        """Whether every response given has been used up, so the expectation answers no more."""
        return self._current() is None

    def __repr__(self) -> str:
        return (
            f"<understudy.Expectation {self.shape.describe()} answered {self.calls}"
            f"{f' of {self.required}' if self.required else ''}>"
        )

    def describe_kind(self) -> str:
        """``expect('GET', '/x')`` or ``expect_in_order(...)``: how the test made it."""
        return f"{'expect_in_order' if self.ordered else 'expect'}({self.shape.describe()})"

    @property
    def answered_by(self) -> tuple[str, Expectation]:
        """What the journal says answered a request this expectation answered: the kind of
        :class:`~understudy.ResponseRecord`, and this expectation, which makes its detail
        when the record is read (:meth:`answer_detail`)."""
        if getattr(self.shape, "stub", None) is not None:  # (a WireMock mapping's)
            return "mapping", self
        return "expectation", self

    def answer_detail(self) -> str:
        """:attr:`ResponseRecord.detail <understudy.ResponseRecord.detail>` of the requests
        it answered: ``#1 expect('GET', '/users')``; a WireMock mapping's name and id."""
        if getattr(self.shape, "stub", None) is not None:
            return self.shape.describe()
        return f"#{self.number} {self.describe_kind()}"

    def describe(self) -> str:
        """One line saying what is expected and how often it was answered, for reports."""
        times = "time" if self.calls == 1 else "times"
        limit = ""
        if self.required:
            bounded = self._steps[-1].count is not None
            limit = f" of {self.required}" if bounded else f" (at least {self.required} expected)"
        return f"{self.describe_kind()}, answered {self.calls} {times}{limit}"


class Expectations:
    """The expectations of one server: choosing, reporting, verifying. Thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.unordered: list[Expectation] = []
        self.ordered: list[Expectation] = []
        #: How many expectations were ever added (they are numbered in that order).
        self.added = 0

    def __bool__(self) -> bool:
        return bool(self.unordered or self.ordered)

    def limited(self) -> bool:
        """Whether any has a limit: none is unmet or exceeded until one has."""
        if self.ordered:
            return True
        for expectation in self.unordered:  # noqa: SIM110 - (a loop: no generator to make)
            if expectation._limited:
                return True
        return False

    def add(self, shape: RequestShape, *, ordered: bool) -> Expectation:
        with self.lock:
            self.added += 1
            expectation = Expectation(shape, ordered=ordered, group=self)
            (self.ordered if ordered else self.unordered).append(expectation)
        return expectation

    def remove(self, expectation: Expectation) -> None:
        """Forget ``expectation`` (a stub mapping deleted through the admin API)."""
        with self.lock:
            for group in (self.unordered, self.ordered):
                if expectation in group:
                    group.remove(expectation)

    def replace(self, old: Expectation, new: Expectation) -> None:
        """Put ``new`` (just added) in the place of ``old``, which is forgotten: a stub mapping
        edited through the admin API keeps its precedence, as its insertion index in WireMock."""
        with self.lock:
            self.unordered.remove(new)
            self.unordered[self.unordered.index(old)] = new

    def select(self, request: Request) -> tuple[Host, tuple[str, Expectation]] | None:
        """The host of the step that answers ``request``, now counted as used, and what the
        journal is to say answered (see :attr:`Expectation.answered_by`); or None."""
        with self.lock:
            candidates = [e for e in self.ordered if not e.exhausted][:1] if self.ordered else []
            unordered = [e for e in reversed(self.unordered) if e._current() is not None]
            if len(unordered) > 1:
                unordered.sort(key=lambda e: 5 if e.priority is None else e.priority)
            candidates += unordered
            for expectation in candidates:
                if not differences(expectation.shape, request):
                    step = expectation._current()
                    assert step is not None
                    step.used += 1
                    expectation.requests.append(request)
                    return step.host, expectation.answered_by
        return None

    def exceeded_by(self, request: Request) -> Expectation | None:
        """The used-up expectation ``request`` fits, now holding it as extra; or None.

        Looked at in the order :meth:`select` uses (the next ordered one, then the newest
        first), so an extra request is charged to the expectation that would have answered it.
        """
        with self.lock:
            used_up = [e for e in [*self.ordered, *reversed(self.unordered)] if e.exhausted]
        for expectation in used_up:
            if not differences(expectation.shape, request):
                with self.lock:
                    expectation.extra.append(request)
                return expectation
        return None

    def exceeded(self) -> list[tuple[Expectation, list[Request]]]:
        """The expectations met too often, with their extra requests not reported yet.

        Each extra request is reported once, as :meth:`unmet` reports each shortfall once.
        """
        with self.lock:
            found = []
            for expectation in [*self.ordered, *self.unordered]:
                new = expectation.extra[expectation._extra_reported :]
                if new:
                    expectation._extra_reported = len(expectation.extra)
                    found.append((expectation, new))
            return found

    def unmet(self) -> list[Expectation]:
        """The expectations used fewer times than required, not reported since their last call.

        Each is reported once (as the server's other failures are forgotten once taken), so a
        second ``check()`` or ``__exit__`` does not raise the same failure again.
        """
        with self.lock:
            found = [
                e
                for e in [*self.ordered, *self.unordered]
                if e.calls < e.required and e._reported_at != e.calls
            ]
            for expectation in found:
                expectation._reported_at = expectation.calls
            return found


def answer_with(expectation: _E, host: Host, delay: object) -> _E:
    """Make ``host`` (after ``delay``, if any) the answer of ``expectation``'s current step."""
    chosen = to_delay(delay)
    if chosen is not None:
        host = DelayedHost(host, chosen)
    with expectation._lock:
        expectation._steps[-1].host = host
    return expectation
