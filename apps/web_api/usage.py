"""Per-key API usage: requests, prompt and completion tokens, audio seconds.

Kept in memory for the life of the server and shown on the status page and in
``/api/status`` under ``api_usage``. The key's *name* is recorded, never the key.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass


@dataclass
class KeyUsage:
    """What one key has used so far."""

    key: str
    requests: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    audio_seconds: float = 0.0


class UsageMeter:
    """Thread-safe counters per key name."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_key: dict[str, KeyUsage] = {}

    def _entry(self, key: str) -> KeyUsage:
        entry = self._by_key.get(key)
        if entry is None:
            entry = self._by_key[key] = KeyUsage(key)
        return entry

    def request(self, key: str, *, error: bool = False) -> None:
        """Count one API request by ``key`` (a key name), and whether it failed."""
        with self._lock:
            entry = self._entry(key)
            entry.requests += 1
            entry.errors += int(error)

    def add(
        self, key: str, *, prompt_tokens: int = 0, completion_tokens: int = 0,
        audio_seconds: float = 0.0,
    ) -> None:  # fmt: skip
        """Add the tokens or audio a request of ``key`` consumed."""
        with self._lock:
            entry = self._entry(key)
            entry.prompt_tokens += int(prompt_tokens)
            entry.completion_tokens += int(completion_tokens)
            entry.audio_seconds += float(audio_seconds)

    def snapshot(self) -> list[dict]:
        """One plain dict per key name, sorted by name."""
        with self._lock:
            rows = [asdict(u) for u in self._by_key.values()]
        for row in rows:
            row["audio_seconds"] = round(row["audio_seconds"], 2)
        return sorted(rows, key=lambda r: r["key"])
