"""Reject rules per address and SMTPFailure: the replies a test makes the server give."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from random import Random
from typing import Literal, TypeAlias

from .._core.faults import FailureSchedule
from .._errors import ConfigurationError

#: A reject rule's value: a reply code, a reply line, or either with how many times to apply it.
RejectRule: TypeAlias = int | str | tuple[int | str, int]
_REPLY_LINE = re.compile(r"[245][0-5][0-9]( .*)?", re.DOTALL)
#: Reply texts for reject rules given as a bare code (RFC 5321 §4.2.2 and §4.2.3).
_REASONS = {
    421: "4.3.2 Service not available",
    450: "4.2.1 Mailbox unavailable",
    451: "4.3.0 Local error in processing",
    452: "4.2.2 Insufficient system storage",
    454: "4.7.0 Temporary authentication failure",
    550: "5.1.1 Mailbox unavailable",
    551: "5.1.6 User not local",
    552: "5.2.2 Exceeded storage allocation",
    553: "5.1.3 Mailbox name not allowed",
    535: "5.7.8 Authentication credentials invalid",
    554: "5.7.1 Transaction failed",
}
OK = "250 OK"


class _Rule:
    """A reply to give for one address, a given number of times or for ever."""

    __slots__ = ("remaining", "reply")

    def __init__(self, reply: str, remaining: int | None) -> None:
        self.reply = reply
        self.remaining = remaining

    def use(self) -> str | None:
        if self.remaining is None:
            return self.reply
        if self.remaining <= 0:
            return None
        self.remaining -= 1
        return self.reply


class RejectRules:
    """``reject={...}`` parsed: per sender and per recipient, exact address, @domain, or ``*``."""

    def __init__(self, rules: Mapping[str, RejectRule] | None) -> None:
        self.senders: dict[str, _Rule] = {}
        self.recipients: dict[str, _Rule] = {}
        if rules is None:
            return
        if not isinstance(rules, Mapping):
            raise ConfigurationError(
                "reject= takes a dict from address to reply code, e.g. "
                "reject={'bad@example.com': 550, 'busy@example.com': (452, 1)}, not "
                f"{type(rules).__name__}"
            )
        for key, value in rules.items():
            if not isinstance(key, str) or not key.strip():
                raise ConfigurationError(
                    "reject= keys are addresses such as 'bad@example.com', "
                    f"'from:spam@example.com' or '@example.org', not {key!r}"
                )
            table, address = self.recipients, key.strip()
            prefix, colon, rest = address.partition(":")
            if colon and prefix.strip().lower() in ("from", "to"):
                table = self.senders if prefix.strip().lower() == "from" else self.recipients
                address = rest.strip()
            address = address.removeprefix("<").removesuffix(">").casefold()
            if not address:
                raise ConfigurationError(f"reject= key {key!r} names no address")
            table[address] = _parse_rule(key, value)

    @staticmethod
    def reply(table: dict[str, _Rule], address: str) -> str | None:
        if not table:
            return None
        address = address.casefold()
        domain = "@" + address.rpartition("@")[2] if "@" in address else None
        for key in (address, domain, "*"):
            rule = table.get(key) if key is not None else None
            if rule is not None:
                return rule.use()
        return None


def _parse_rule(key: str, value: object) -> _Rule:
    times: object = None
    if isinstance(value, tuple):
        if len(value) != 2:
            raise ConfigurationError(
                f"reject={{{key!r}: {value!r}}}: a tuple is (reply, times), e.g. (452, 1) for "
                "452 once, then accept"
            )
        value, times = value
        if not isinstance(times, int) or isinstance(times, bool) or times < 1:
            raise ConfigurationError(
                f"reject={{{key!r}: ...}}: times must be a positive int, not {times!r}"
            )
    reply = reply_line(value, allow_success=False)
    if reply is None:
        raise ConfigurationError(
            f"reject={{{key!r}: {value!r}}}: give a reply code from 400 to 559 (550) or a reply "
            "line ('550 5.1.1 No such user'), optionally with a count: (452, 1)"
        )
    return _Rule(reply, times)  # type: ignore[arg-type]


def reply_line(value: object, *, allow_success: bool) -> str | None:
    """A reply line from a code or a line; ``None`` if ``value`` is neither."""
    lowest = 200 if allow_success else 400
    if isinstance(value, int) and not isinstance(value, bool):
        if not lowest <= value <= 559 or value // 100 == 3:
            return None
        if value in _REASONS:
            return f"{value} {_REASONS[value]}"
        return f"{value} {'OK' if value < 300 else 'Rejected by understudy'}"
    if isinstance(value, str) and _REPLY_LINE.fullmatch(value) and "\n" not in value:
        if int(value[:3]) < lowest:
            return None
        return value
    return None


# -- failures --------------------------------------------------------------------------------

#: Where in the dialogue an :class:`SMTPFailure` strikes.
Stage: TypeAlias = Literal["connect", "auth", "mail", "rcpt", "data", "end_of_data"]
_STAGES: tuple[str, ...] = ("connect", "auth", "mail", "rcpt", "data", "end_of_data")


class SMTPFailure:
    """A failure an :class:`SMTPServer` injects at one stage of the dialogue (``failures=[...]``).

    Where ``reject=`` refuses given addresses, a failure strikes by position and chance: the
    Nth message, the first N attempts, or a probability, whatever the addresses. It either
    replies with an error code at the stage, or drops the connection there.

    Args:
        stage: where it strikes (RFC 5321 §3.3, §4.3.2):

            - ``"connect"``: the greeting is this reply instead of 220, then the server closes
              (smtplib raises ``SMTPConnectError``); ``drop``: closes with no greeting;
            - ``"auth"``: the reply to ``AUTH`` (RFC 4954 §6: 454 temporary, 535 refused);
            - ``"mail"``, ``"rcpt"``: the reply to ``MAIL FROM``, ``RCPT TO``;
            - ``"data"``: the reply to the ``DATA`` command instead of 354; ``drop``: the server
              sends 354, then closes while the client sends the content (mid-DATA);
            - ``"end_of_data"``: the reply after the content (the message is recorded, as a
              message a handler refuses is); ``drop``: closes after the content, with no reply
              (the client cannot know whether the message was taken).

        reply: a reply code from 400 to 559 (a standard text is added) or a reply line
            (``"451 4.3.0 Try again later"``). Give ``reply`` or ``drop=True``.
        nth: strike only the Nth time the stage is reached over the server's life (1-based):
            the Nth connection, the Nth ``MAIL`` (that is, the Nth message), the Nth ``RCPT``,
            ... ``None`` (the default): any time.
        times: strike at most this many times (``times=2`` with nothing else: the first two);
            ``None``: no limit.
        probability: the chance, 0 to 1, that each eligible time strikes, drawn from the
            server's ``random`` (seed it to replay a run). 1 by default.
        drop: close the connection at the stage instead of replying.

    Raises:
        ConfigurationError: an unknown stage, both or neither of ``reply`` and ``drop``, a
            reply that is not an error code or line, or a bad ``nth``/``times``/``probability``.

    When several failures strike at once, the first in the list wins. Each server counts
    for itself: a failure given to several servers strikes on each one's Nth time.

    .. versionadded:: 0.1
    """

    __slots__ = ("_schedule", "drop", "nth", "probability", "reply", "stage", "times")

    def __init__(
        self,
        stage: Stage,
        reply: int | str | None = None,
        *,
        nth: int | None = None,
        times: int | None = None,
        probability: float = 1.0,
        drop: bool = False,
    ) -> None:
        if stage not in _STAGES:
            raise ConfigurationError(
                f"SMTPFailure stage must be one of {', '.join(map(repr, _STAGES))}, not {stage!r}"
            )
        if (reply is None) == (not drop):
            raise ConfigurationError(
                "give SMTPFailure a reply code (SMTPFailure('rcpt', 452)) or drop=True "
                "(SMTPFailure('data', drop=True)), one of the two"
            )
        line = None
        if reply is not None:
            line = reply_line(reply, allow_success=False)
            if line is None:
                raise ConfigurationError(
                    f"SMTPFailure reply must be an error code from 400 to 559 (451) or a reply "
                    f"line ('451 4.3.0 Try again later'), not {reply!r}"
                )
        try:
            self._schedule = FailureSchedule(nth=nth, times=times, probability=probability)
        except ValueError as error:
            raise ConfigurationError(f"SMTPFailure: {error}") from None
        self.stage = stage
        self.reply = line
        self.nth = nth
        self.times = times
        self.probability = float(probability)
        self.drop = bool(drop)

    def _for_a_server(self) -> SMTPFailure:
        """A copy whose counts start from nothing, for one server (the given one is left as is)."""
        fresh = copy.copy(self)
        fresh._schedule = FailureSchedule(
            nth=self.nth, times=self.times, probability=self.probability
        )
        return fresh

    def __repr__(self) -> str:
        what = "drop=True" if self.drop else repr(self.reply)
        options = "".join(
            f", {name}={value!r}"
            for name, value, default in (
                ("nth", self.nth, None),
                ("times", self.times, None),
                ("probability", self.probability, 1.0),
            )
            if value != default
        )
        return f"understudy.SMTPFailure({self.stage!r}, {what}{options})"


def check_failures(failures: object) -> dict[str, list[SMTPFailure]]:
    """``failures=`` by stage, each a copy of its own for the server (its counts from zero)."""
    by_stage: dict[str, list[SMTPFailure]] = {}
    if failures is None:
        return by_stage
    if isinstance(failures, SMTPFailure) or not isinstance(failures, list | tuple):
        raise ConfigurationError(
            f"failures= takes a list of understudy.SMTPFailure, e.g. "
            f"failures=[SMTPFailure('rcpt', 452, times=1)], not {failures!r}"
        )
    for failure in failures:
        if not isinstance(failure, SMTPFailure):
            raise ConfigurationError(
                f"failures= holds understudy.SMTPFailure items, not {failure!r}"
            )
        by_stage.setdefault(failure.stage, []).append(failure._for_a_server())
    return by_stage


def strike(failures: list[SMTPFailure], random: Random) -> SMTPFailure | None:
    """Count one arrival at the stage of ``failures``; the first that strikes now, if any
    (the later ones count the arrival too, as if it had passed them)."""
    chosen = None
    for failure in failures:
        if chosen is None:
            if failure._schedule.fires(random):
                chosen = failure
        else:
            failure._schedule.arrivals += 1
    return chosen


# -- the protocol ----------------------------------------------------------------------------
