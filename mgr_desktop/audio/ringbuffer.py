"""A preallocated mono float32 ring buffer for one writer (the audio callback) and any number of
readers, each at its own position.

Every block is written twice, at i and i + capacity, so the latest N samples are always one
contiguous slice: readers never concatenate and the writer never allocates (Friture's trick).
"""

from __future__ import annotations

import numpy as np


class RingBuffer:
    def __init__(self, capacity: int) -> None:
        self.capacity = int(capacity)
        self._buf = np.zeros(2 * self.capacity, dtype=np.float32)
        self.written = 0  # total samples ever written; an int store is atomic under the GIL

    def write(self, block: np.ndarray) -> None:
        """Called from the audio callback: two slice copies, no allocation, no locks."""
        n = len(block)
        if n >= self.capacity:
            block = block[-self.capacity :]
            n = self.capacity
        start = self.written % self.capacity
        first = min(n, self.capacity - start)
        for base in (start, start + self.capacity):
            self._buf[base : base + first] = block[:first]
        if first < n:  # wrapped: the rest goes to the start of both copies
            rest = n - first
            self._buf[:rest] = block[first:]
            self._buf[self.capacity : self.capacity + rest] = block[first:]
        self.written += n

    def latest(self, n: int) -> np.ndarray:
        """The newest n samples (zeros before anything was written), as a copy."""
        n = min(n, self.capacity)
        end = self.written % self.capacity + self.capacity
        out = self._buf[end - n : end].copy()
        if self.written < n:
            out[: n - self.written] = 0.0
        return out

    def since(self, position: int, limit: int | None = None) -> tuple[np.ndarray, int]:
        """Samples written after `position` (a reader's own cursor), oldest first, and the new
        cursor. A reader that fell more than a buffer behind skips ahead."""
        written = self.written
        n = min(written - position, self.capacity, limit or self.capacity)
        if n <= 0:
            return np.zeros(0, dtype=np.float32), written
        end = written % self.capacity + self.capacity
        return self._buf[end - n : end].copy(), written

    def clear(self) -> None:
        self._buf[:] = 0.0
        self.written = 0
