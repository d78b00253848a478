"""Per-model serving metrics: requests, batch sizes, latency percentiles, errors."""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field

import numpy as np

_WINDOW = 2000  # latencies kept for percentiles; old ones roll off


@dataclass
class ModelMetrics:
    """Counters for one model. Thread-safe; ``snapshot`` gives plain numbers."""

    name: str
    requests: int = 0
    items: int = 0
    batches: int = 0
    errors: int = 0
    queue_depth: int = 0
    batch_sizes: Counter = field(default_factory=Counter)
    _latency: deque = field(default_factory=lambda: deque(maxlen=_WINDOW))
    _forward: deque = field(default_factory=lambda: deque(maxlen=_WINDOW))
    _recent_batches: deque = field(default_factory=lambda: deque(maxlen=200))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record_batch(self, items: int, requests: int, forward_s: float) -> None:
        with self._lock:
            self.batches += 1
            self.items += items
            self.batch_sizes[items] += 1
            self._forward.append(forward_s)
            self._recent_batches.append((time.time(), items))

    def record_request(self, latency_s: float, ok: bool) -> None:
        with self._lock:
            self.requests += 1
            self._latency.append(latency_s)
            if not ok:
                self.errors += 1

    def queue_changed(self, delta: int) -> None:
        with self._lock:
            self.queue_depth += delta

    def snapshot(self) -> dict:
        """Plain numbers for the status page and the API (milliseconds for latency)."""
        with self._lock:
            lat = np.array(self._latency, dtype=float) * 1000
            fwd = np.array(self._forward, dtype=float) * 1000
            sizes = dict(sorted(self.batch_sizes.items()))
            recent = list(self._recent_batches)
            base = {
                "model": self.name,
                "requests": self.requests,
                "items": self.items,
                "batches": self.batches,
                "errors": self.errors,
                "queue_depth": self.queue_depth,
            }
        base.update(
            mean_batch=round(self.items / self.batches, 2) if self.batches else 0.0,
            max_batch=max(sizes) if sizes else 0,
            p50_ms=round(float(np.percentile(lat, 50)), 1) if lat.size else None,
            p95_ms=round(float(np.percentile(lat, 95)), 1) if lat.size else None,
            forward_p50_ms=round(float(np.percentile(fwd, 50)), 1) if fwd.size else None,
            batch_sizes=sizes,
            recent_batches=recent,
        )
        return base


class MetricsRegistry:
    """All models' metrics, created on first use."""

    def __init__(self) -> None:
        self._by_model: dict[str, ModelMetrics] = {}
        self._lock = threading.Lock()

    def for_model(self, name: str) -> ModelMetrics:
        with self._lock:
            if name not in self._by_model:
                self._by_model[name] = ModelMetrics(name)
            return self._by_model[name]

    def snapshot(self) -> list[dict]:
        with self._lock:
            models = list(self._by_model.values())
        return [m.snapshot() for m in models]
