"""A Griffe extension for understudy's reference: its docstrings' reST bits as Markdown.

The docstrings are Google style with a little reST in them: roles (``:class:`~understudy.TLSInfo```)
and ``.. versionadded::``. mkdocstrings renders Markdown, so this turns a role naming a public
object (``understudy.X``, ``understudy.fakes.X``, ``understudy.tls.X``, or a bare name the
package exports) into a cross-reference to its entry, any other role into inline code,
``.. versionadded:: V`` into a sentence, and the ``::`` that ends a paragraph before an
indented code block into the ``:`` reST shows in its place. It also hides private base
classes (``_RequestFields``): a reader sees the classes they can name.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(class|meth|attr|func|mod|exc|data|obj):`(~?)([^`]+)`")
_VERSIONADDED = re.compile(r"^(\s*)\.\. versionadded:: *(\S+)\s*$", re.MULTILINE)
#: A paragraph ending in ``::`` before a literal block: reST shows one colon (``Example:``).
_LITERAL = re.compile(r"(?<=\S)::$", re.MULTILINE)
_PUBLIC_MODULES = ("understudy.fakes.", "understudy.tls.", "understudy.")


def _exported() -> set[str]:
    import understudy  # noqa: PLC0415 - only when the extension runs

    return set(understudy.__all__)


class UnderstudyDocstrings(griffe.Extension):
    """Rewrites reST roles and directives in docstrings; drops private bases."""

    def __init__(self) -> None:
        self._exported = _exported()

    def _role(self, match: re.Match[str]) -> str:
        role, short, target = match.group(1), match.group(2) == "~", match.group(3).strip()
        shown = target.rsplit(".", 1)[-1] if short else target
        if not target.startswith(_PUBLIC_MODULES):
            if target.split(".", 1)[0] not in self._exported:
                return f"`{shown}`"
            target = f"understudy.{target}"
        if any(part.startswith("_") for part in target.split(".")):
            return f"`{shown}`"
        if role in ("attr", "data"):
            # Attributes are rows of their owner's Attributes table, which has no anchor per
            # row: the link goes to the owner (a property has its own entry, but the owner's
            # is as near).
            target = target.rsplit(".", 1)[0]
        return f"[`{shown}`][{target}]"

    def _rewrite(self, obj: griffe.Object) -> None:
        docstring = obj.docstring
        if docstring is None:
            return
        value = _ROLE.sub(self._role, docstring.value)
        value = _VERSIONADDED.sub(r"\1*Added in version \2.*", value)
        value = _LITERAL.sub(":", value)
        docstring.value = value

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        self._rewrite(obj)

    def on_class(self, *, cls: griffe.Class, **kwargs: Any) -> None:
        cls.bases = [base for base in cls.bases if not str(base).rsplit(".", 1)[-1].startswith("_")]
