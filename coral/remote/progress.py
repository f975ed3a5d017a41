"""Progress of a transfer: ``progress_callback(current, total, bytes, hash)`` (the signature
the public API documents) and, where tqdm is installed, a bar (``tqdm.auto``: a widget in
notebooks)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

ProgressCallback = Callable[[int, int, int, str], None]

_BAR_MIN_BYTES = 32 << 20  # small transfers finish before a bar is worth drawing
_BAR_MIN_ITEMS = 64  # the same, when the bytes are not known in advance (pulls)


class Progress:
    """Counts finished items and bytes from several worker threads."""

    def __init__(
        self,
        what: str,
        total: int,
        total_bytes: int | None,
        callback: ProgressCallback | None,
        show: bool | None,
    ) -> None:
        self.total = total
        self.done = 0
        self.bytes = 0
        self._callback = callback
        self._lock = threading.Lock()
        self._bar = self._make_bar(what, total, total_bytes, show)

    @staticmethod
    def _make_bar(what: str, total: int, total_bytes: int | None, show: bool | None) -> Any:
        big = total >= _BAR_MIN_ITEMS if total_bytes is None else total_bytes >= _BAR_MIN_BYTES
        if show is False or (show is None and not big):
            return None
        try:
            from tqdm.auto import tqdm
        except ImportError:
            return None
        return tqdm(total=total_bytes, desc=what, unit="B", unit_scale=True, leave=False)

    def advance(self, nbytes: int, key: str) -> None:
        with self._lock:
            self.done += 1
            self.bytes += nbytes
            if self._bar is not None:
                self._bar.update(nbytes)
            if self._callback is not None:  # one call at a time, in order
                self._callback(self.done, self.total, self.bytes, key)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
