"""Following a running server's journals: each entry is reported once, when it is ready.

A :class:`Follower` listens to each :class:`~._options.Source`'s journal
(:meth:`~understudy._journal.Journal.follow`) on the server's loop thread, and queues what it
hears; the command's main thread takes from the queue and reports. An entry is reported when
its source's ``ready`` holds of it: at once for most, once answered for an HTTP request (its
journal entry is replaced then), once closed for a TCP connection (its record changes in
place). What is not ready when the command stops is reported at the stop, as it is then.
"""

from __future__ import annotations

import functools
import queue
from typing import Any

from ._options import Source
from ._reports import Report

__all__ = ["Follower"]

#: What a journal's listener queues: (the source's index, the entry's number or 0, the entry
#: or ``None`` for a change in place).
_Heard = tuple[int, int, Any]


class Follower:
    """Hears every change to ``sources``' journals; :meth:`take` returns what became ready."""

    def __init__(self, sources: list[Source]) -> None:
        self._sources = sources
        self._heard: queue.SimpleQueue[_Heard] = queue.SimpleQueue()
        #: Entries heard of but not yet reported, in the order they arrived, by (source, number).
        self._pending: dict[tuple[int, int], Any] = {}

    def start(self) -> None:
        """Listen to every source's journal (before the server starts: nothing is missed)."""
        for index, source in enumerate(self._sources):
            source.journal.follow(functools.partial(self._hear, index))

    def stop(self) -> None:
        """Stop listening."""
        for source in self._sources:
            source.journal.follow(None)

    def wake(self) -> None:
        """End a :meth:`take` that waits, at once (safe to call from a signal handler)."""
        self._heard.put((-1, 0, None))  # (SimpleQueue.put is reentrant; number 0 keeps nothing)

    def _hear(self, index: int, number: int, entry: Any) -> None:
        # (on the server's loop thread: a put never blocks)
        self._heard.put((index, number, entry))

    def take(self, timeout: float) -> list[Report]:
        """Block until something is heard (at most ``timeout`` seconds); the reports of the
        entries it made ready, oldest first (``[]`` if none, or on timeout)."""
        try:
            self._note(self._heard.get(timeout=timeout))
        except queue.Empty:
            return []
        return self._ready(everything=False)

    def rest(self) -> list[Report]:
        """Once the server has stopped: the reports of every entry not yet reported."""
        return self._ready(everything=True)

    def _note(self, heard: _Heard) -> None:
        """Keep what ``heard`` (and all heard since) says, each entry under its number."""
        while True:
            index, number, entry = heard
            if number:
                self._pending[index, number] = entry  # (a replaced entry keeps its place)
            try:
                heard = self._heard.get_nowait()
            except queue.Empty:
                return

    def _ready(self, *, everything: bool) -> list[Report]:
        if everything:
            try:
                self._note(self._heard.get_nowait())
            except queue.Empty:
                pass
        reports = []
        for key, entry in list(self._pending.items()):
            source = self._sources[key[0]]
            if everything or source.ready is None or source.ready(entry):
                del self._pending[key]
                reports.append(source.report(entry))
        return reports
