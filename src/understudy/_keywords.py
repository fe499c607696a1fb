"""Wrong keyword arguments become a :class:`ConfigurationError` naming the closest valid one.

Every server class's ``__init__`` (through ``Server.__init_subclass__``), ``serve_directory`` and
the ``understudy`` marker go through here, so ``SMTPServer(startls=True)`` says "did you mean
`starttls`?" instead of a bare ``TypeError``. The valid names come from the signature, never from
a list kept by hand. The check costs nothing on the good path: :func:`checked_keywords` looks at
the arguments only once the call has raised ``TypeError``, and only converts it when the call's
own arguments do not bind (a ``TypeError`` from inside the body goes through as it is).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Collection, Iterable
from typing import Any, TypeVar

from ._errors import ConfigurationError

__all__ = ["checked_keywords", "keyword_names", "not_options", "unknown_keyword"]

F = TypeVar("F", bound=Callable[..., Any])

_KEYWORD_KINDS = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


@functools.cache
def keyword_names(function: Callable[..., Any]) -> frozenset[str] | None:
    """The names ``function`` takes as keywords (``self`` left out); ``None``: any (``**kw``).
    Remembered per function (a fixture asks for its server class's at every test)."""
    parameters = inspect.signature(function).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return None
    return frozenset(p.name for p in parameters if p.kind in _KEYWORD_KINDS) - {"self"}


def unknown_keyword(
    what: str, given: Iterable[str], valid: Collection[str]
) -> ConfigurationError | None:
    """The error for the first of ``given`` not in ``valid``, or ``None`` if all are valid.

    Args:
        what: how the message names the callable (``"SMTPServer()"``).
        given: the keyword names passed.
        valid: the names accepted.

    Returns:
        A :class:`ConfigurationError` saying "did you mean `X`?" for the closest valid name
        (:func:`difflib.get_close_matches`), or listing every valid name when none is close.
    """
    for name in given:
        if name in valid:
            continue
        import difflib  # noqa: PLC0415 - only for a mistake; every server imports this module

        close = difflib.get_close_matches(name, sorted(valid), n=1)
        hint = (
            f"did you mean `{close[0]}`?"
            if close
            else f"it takes {', '.join(f'{option}=' for option in sorted(valid))}"
        )
        return ConfigurationError(f"{what} got an unexpected keyword argument {name!r}: {hint}")
    return None


def not_options(server: str, given: object) -> ConfigurationError:
    """The error for the options fixture of the server class named ``server``
    (``http_server_options`` for ``HTTPServer``) that returned ``given``, not a mapping."""
    import re  # noqa: PLC0415 - only for a mistake

    fixture = re.sub(r"(?<!^)(?=[A-Z][a-z])", "_", server).lower() + "_options"
    return ConfigurationError(
        f"the {fixture} fixture must return a dict of {server}'s keyword arguments, such as "
        f"{{'host': 'localhost'}}, not {given!r}"
        + (" (a `return` missing?)" if given is None else "")
    )


def checked_keywords(function: F) -> F:
    """``function``, raising :class:`ConfigurationError` instead of ``TypeError`` when called
    with arguments its signature refuses: an unknown keyword (with the closest valid name),
    positional arguments where only keywords are taken, or a required one missing.

    ``functools.wraps`` keeps the signature for ``inspect`` and the docs; type checkers see
    ``function``'s own. An ``__init__`` is named after the class called (``"HTTPServer()"``).
    """

    @functools.wraps(function)
    def checked(*args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True
        try:
            return function(*args, **kwargs)
        except TypeError:
            converted = _binding_error(function, args, kwargs)
            if converted is None:
                raise  # the arguments bind: the TypeError came from inside
            raise converted from None

    return checked  # type: ignore[return-value]


def _binding_error(
    function: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> ConfigurationError | None:
    signature = inspect.signature(function)
    try:
        signature.bind(*args, **kwargs)
    except TypeError as error:
        problem = str(error)
    else:
        return None
    what = f"{function.__name__}()"
    if "self" in signature.parameters and args:
        if function.__name__ == "__init__":
            what = f"{type(args[0]).__name__}()"
        args = args[1:]
    valid = keyword_names(function)
    if valid is not None:
        unknown = unknown_keyword(what, kwargs, valid)
        if unknown is not None:
            return unknown
    positional = [
        p
        for p in signature.parameters.values()
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        and p.name != "self"
    ]
    if len(args) > len(positional):
        named = [p.name for p in positional]
        options = ", ".join(f"{name}=" for name in sorted(set(valid or ()) - set(named)))
        extra = len(args) - len(positional)
        return ConfigurationError(
            f"{what} takes its options as keywords, not {extra}{' more' * bool(positional)} "
            f"positional argument{'s' * (extra != 1)}: name each one ({options})"
        )
    return ConfigurationError(f"{what}: {problem}")
