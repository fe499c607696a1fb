"""Regular expressions that come from data (mapping files, the admin API): matched in linear time.

Pure. A pattern a test writes as a compiled ``re.Pattern`` is the test's own code and runs on
Python's ``re``; a pattern read from a WireMock mapping is data, and Python's backtracking
engine takes time exponential in the subject for some patterns (``/api/(a+)+b`` against
``/api/`` and 30 ``a``: minutes), all of it on the one loop thread every server shares. So such
patterns are compiled with RE2 (``google-re2``), whose matching time is linear in the subject
whatever the pattern, with no clock or thread involved.

RE2's syntax is Perl's and Python's without what needs backtracking: no lookaround
(``(?=``, ``(?!``, ``(?<=``, ``(?<!``), no backreference (``\\1``), no possessive or atomic
groups; ``\\z`` where Python writes ``\\Z``. ``\\d``, ``\\w`` and ``\\s`` are ASCII, as in Java
(WireMock's own engine) by default. A pattern RE2 refuses is refused when the mapping is loaded,
with a message saying so.
"""

from __future__ import annotations

from typing import Any

import re2

__all__ = ["LinearRegex", "RegexError", "compile_linear"]


class RegexError(ValueError):
    """A pattern RE2 cannot compile; the message says why and what to write instead."""


def _options(*, dotall: bool) -> Any:
    options = re2.Options()
    options.log_errors = False  # (RE2 would write each refusal to stderr as well)
    options.dot_nl = dotall
    return options


_PLAIN = _options(dotall=False)
_DOTALL = _options(dotall=True)


class LinearRegex:
    """A compiled pattern that matches in time linear in the subject (RE2).

    Attributes:
        pattern: the pattern as written.
    """

    __slots__ = ("_compiled", "pattern")

    def __init__(self, pattern: str, compiled: Any) -> None:
        self.pattern = pattern
        self._compiled = compiled

    def fullmatch(self, subject: str) -> bool:
        """Whether the whole of ``subject`` matches.

        A lone surrogate in ``subject`` (a JSON string may hold one) cannot be given to RE2,
        which reads UTF-8: it is matched as U+FFFD, the replacement character.
        """
        try:
            return self._compiled.fullmatch(subject) is not None
        except UnicodeEncodeError:
            mended = subject.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
            return self._compiled.fullmatch(mended) is not None

    def __repr__(self) -> str:
        return f"LinearRegex({self.pattern!r})"


def compile_linear(pattern: str, *, dotall: bool = False) -> LinearRegex:
    """Compile ``pattern`` with RE2.

    Args:
        pattern: the regular expression (RE2 syntax, see the module's docstring).
        dotall: ``.`` matches a line break too (Python's ``re.DOTALL``).

    Raises:
        RegexError: RE2 cannot compile it (lookaround, backreferences, a repetition over
            1000, a program too large...), or it holds a lone surrogate.
    """
    try:
        compiled = re2.compile(pattern, _DOTALL if dotall else _PLAIN)
    except UnicodeEncodeError as error:
        char = pattern[error.start]
        raise RegexError(
            f"holds a lone surrogate (U+{ord(char):04X}), which no text holds"
        ) from None
    except re2.error as error:
        reason = error.args[0] if error.args else ""
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise RegexError(
            f"RE2 cannot compile it ({reason}). Patterns from mappings are matched in linear time "
            "by RE2, which has no lookaround, backreferences, possessive or atomic groups; "
            "write \\z instead of \\Z"
        ) from None
    return LinearRegex(pattern, compiled)
