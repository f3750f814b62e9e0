"""The warnings of many fits running in threads, kept by the response each came from.

``warnings.catch_warnings`` is process-wide, so threads cannot each record their own;
here one recorder is installed for the whole run, and each thread says which response it
is working on.
"""

from __future__ import annotations

import threading
import warnings

__all__ = ["WarningLog"]


class WarningLog:
    """A context in which warnings are recorded by the response each thread is on."""

    def __init__(self):
        self._local = threading.local()
        self._lock = threading.Lock()
        self._by_item: dict[object, list[str]] = {}
        self._context = None

    def __enter__(self):
        self._context = warnings.catch_warnings()
        self._context.__enter__()
        warnings.simplefilter("always")
        warnings.showwarning = self._record
        return self

    def __exit__(self, *exc) -> None:
        self._context.__exit__(*exc)

    def _record(self, message, category, filename, lineno, file=None, line=None):
        with self._lock:
            self._by_item.setdefault(getattr(self._local, "item", None), []).append(
                str(message))

    def working_on(self, item) -> None:
        """This thread's warnings from now on belong to ``item``."""
        self._local.item = item

    def take(self, item) -> list[str]:
        """The warnings recorded for ``item`` (and forgets them)."""
        with self._lock:
            return self._by_item.pop(item, [])
