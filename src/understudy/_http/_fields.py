"""Multi-valued, order-keeping maps: header fields (case-insensitive) and query parameters."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

__all__ = ["Headers", "Query", "field_pairs"]


class _MultiMap(Mapping[str, str]):
    """A read-only mapping over ``(name, value)`` pairs that keeps every value and their order."""

    __slots__ = ("_index", "_items")
    _fold_case = False

    def __init__(self, items: Iterable[tuple[str, str]] | Mapping[str, str] | None = None) -> None:
        if items is None:
            pairs: list[tuple[str, str]] = []
        elif isinstance(items, Mapping):
            pairs = [(str(k), str(v)) for k, v in items.items()]
        else:
            pairs = [(str(k), str(v)) for k, v in items]
        self._items = pairs
        self._index: dict[str, list[str]] | None = None

    def _key(self, name: str) -> str:
        return name.lower() if self._fold_case else name

    def _get_index(self) -> dict[str, list[str]]:
        index = self._index
        if index is None:
            index = {}
            for name, value in self._items:
                index.setdefault(self._key(name), []).append(value)
            self._index = index
        return index

    def get_all(self, name: str) -> list[str]:
        """Every value given for ``name``, in the order received (``[]`` if none)."""
        return list(self._get_index().get(self._key(name), ()))

    def multi_items(self) -> list[tuple[str, str]]:
        """Every ``(name, value)`` pair as received, repeated names included."""
        return list(self._items)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._key(name) in self._get_index()

    def __iter__(self) -> Iterator[str]:
        seen: set[str] = set()
        for name, _ in self._items:
            key = self._key(name)
            if key not in seen:
                seen.add(key)
                yield name

    def __len__(self) -> int:
        return len(self._get_index())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _MultiMap):
            return self._get_index() == other._get_index()
        if isinstance(other, Mapping):
            mine = {self._key(name): self[name] for name in self}
            return mine == {self._key(str(k)): str(v) for k, v in other.items()}
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._items!r})"


class Headers(_MultiMap):
    """HTTP fields: case-insensitive names, every value kept in order (RFC 9110 §5).

    ``headers["Accept"]`` gives the field's values combined with ``", "`` as RFC 9110 §5.3 allows
    (look up ``Set-Cookie``, which cannot be combined, with :meth:`get_all`). Iteration yields
    each name once, as first received; ``multi_items()`` gives the field lines as received.
    Comparison with a mapping ignores the case of names.
    """

    __slots__ = ()
    _fold_case = True

    def __getitem__(self, name: str) -> str:
        values = self._get_index().get(name.lower())
        if values is None:
            raise KeyError(name)
        return values[0] if len(values) == 1 else ", ".join(values)


class Query(_MultiMap):
    """Query parameters: case-sensitive names, every value kept in order.

    ``query["page"]`` gives the first value of ``page``; :meth:`get_all` gives all of them.
    """

    __slots__ = ()

    def __getitem__(self, name: str) -> str:
        values = self._get_index().get(name)
        if values is None:
            raise KeyError(name)
        return values[0]


def field_pairs(raw_fields: list[bytes] | tuple[bytes, ...]) -> list[tuple[bytes, bytes]]:
    """Flat field lines (name, value, name, value...) as ``(name, value)`` pairs."""
    items = iter(raw_fields)
    return list(zip(items, items, strict=True))
