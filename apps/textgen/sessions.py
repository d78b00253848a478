"""Which streams each page session is running, so its Cancel button ends only its own."""

from __future__ import annotations

import threading
from collections import defaultdict

from .streaming import TextStream


class ActiveStreams:
    """Running streams by session key. Cancelling is idempotent and thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._streams: dict[str, set[TextStream]] = defaultdict(set)

    def add(self, key: str, stream: TextStream) -> None:
        with self._lock:
            self._streams[key].add(stream)

    def discard(self, key: str, stream: TextStream) -> None:
        with self._lock:
            streams = self._streams.get(key)
            if streams is not None:
                streams.discard(stream)
                if not streams:
                    del self._streams[key]

    def cancel(self, key: str) -> int:
        """Cancel the session's running streams; returns how many were still running."""
        with self._lock:
            streams = list(self._streams.get(key, ()))
        running = [s for s in streams if not s.done and not s.cancelled]
        for stream in streams:
            stream.cancel()
        return len(running)

    def running(self, key: str) -> int:
        with self._lock:
            return sum(1 for s in self._streams.get(key, ()) if not s.done)
