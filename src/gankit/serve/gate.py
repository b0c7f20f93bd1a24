"""The studio's concurrency gate: one request at a time on a model, a bounded queue in front of it (a forward pass is
not re-entrant: ``Recipe.sample`` flips train/eval mode)."""

from __future__ import annotations

import threading
from contextlib import contextmanager


class Busy(Exception):
    """The model's queue is full or the wait for it ran out (answered with 429)."""


class Gate:
    """One request at a time on a model; at most ``max_queue`` requests in flight or waiting, each waiting at most
    ``wait_s`` seconds."""

    def __init__(self, max_queue: int = 8, wait_s: float = 30.0):
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max_queue)
        self.wait_s = wait_s

    @contextmanager
    def turn(self):
        if not self._slots.acquire(blocking=False):
            raise Busy("the model's request queue is full; try again shortly")
        try:
            if not self._lock.acquire(timeout=self.wait_s):
                raise Busy(f"the model was busy for more than {self.wait_s:g} s; try again shortly")
            try:
                yield
            finally:
                self._lock.release()
        finally:
            self._slots.release()
