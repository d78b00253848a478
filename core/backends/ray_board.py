"""The board: one small Ray actor that every caller and replica of the suite can reach.

It does two jobs that no single replica can:

- **Cancel by request id.** A stream runs on whichever replica Serve picked, and a
  cancel call from the pages may come from another thread or even another process.
  The caller opens the request id here before it starts the stream; ``cancel`` marks
  it; the replica running the stream waits on ``wait_cancel`` beside it and stops the
  runner when it returns. The stream then ends as it does locally: with its result
  (``finish_reason="cancelled"`` for text generation), not with a Ray error.
- **Batch metrics from every replica.** Each replica reports the size of each batch it
  runs; the status page reads them per deployment and replica.
- **Which models each replica holds.** Each replica reports its manager's models (loaded
  or not, memory, loads) and its process memory when they change; the status and home
  pages show a model as loaded when a live replica holds it.

It is an async actor with no CPU reservation, named in the suite's namespace, so
replicas find it with ``get_board()`` and a restarted pages process finds the same one.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import ray

BOARD_NAME = "springboard-board"


class Board:
    """Cancel flags by request id, and batch counts by model and replica."""

    def __init__(self) -> None:
        self._open: dict[str, asyncio.Event] = {}
        self._cancelled: set[str] = set()
        self._batches: dict[tuple[str, str], Counter] = {}
        self._streamed: dict[tuple[str, str], Counter] = {}
        self._seen: dict[tuple[str, str], float] = {}
        self._replicas: dict[str, dict] = {}

    # ------------------------------------------------------------------ cancels
    def open(self, request_id: str) -> None:
        """A stream with this id is about to start (the caller says so first, so no cancel is lost)."""
        self._open.setdefault(request_id, asyncio.Event())

    def cancel(self, request_id: str) -> bool:
        """Mark the stream cancelled; returns whether it was running."""
        event = self._open.get(request_id)
        if event is None:
            return False
        self._cancelled.add(request_id)
        event.set()
        return True

    async def wait_cancel(self, request_id: str) -> bool:
        """Return when the stream is cancelled (True) or closed (False)."""
        event = self._open.setdefault(request_id, asyncio.Event())
        await event.wait()
        return request_id in self._cancelled

    def close(self, request_id: str) -> None:
        """The stream is over: release its waiter and forget it."""
        event = self._open.pop(request_id, None)
        if event is not None:
            event.set()
        self._cancelled.discard(request_id)

    # ------------------------------------------------------------------ metrics
    def record_batch(self, model: str, replica: str, items: int) -> None:
        key = (model, replica)
        self._batches.setdefault(key, Counter())[items] += 1
        self._seen[key] = time.time()

    def record_stream_batches(self, model: str, replica: str, sizes: dict[int, int]) -> None:
        """The replica's micro-batcher histogram (streams batch there): replaces the last one."""
        self._streamed[(model, replica)] = Counter({int(k): int(v) for k, v in sizes.items()})
        self._seen[(model, replica)] = time.time()

    def record_models(self, replica: str, actor: str, pid: int, rss_mb: int, models: list[dict]) -> None:
        """A replica's models as its manager reports them (replaces its last report)."""
        self._replicas[replica] = {
            "replica": replica, "actor": actor, "pid": pid, "rss_mb": rss_mb,
            "models": models, "at": time.time(),
        }  # fmt: skip

    def replica_models(self) -> list[dict]:
        """Every replica's last report (``actor`` is its Serve actor name, to check it lives)."""
        return [self._replicas[r] for r in sorted(self._replicas)]

    def forget_replica(self, replica: str) -> None:
        self._replicas.pop(replica, None)
        for key in [k for k in self._seen if k[1] == replica]:
            self._batches.pop(key, None)
            self._streamed.pop(key, None)
            self._seen.pop(key, None)

    def batch_stats(self) -> list[dict]:
        """Per model and replica: batches run, items, and how many of each size."""
        rows = []
        for model, replica in sorted(self._seen):
            sizes = self._batches.get((model, replica), Counter()) + self._streamed.get(
                (model, replica), Counter()
            )
            batches = sum(sizes.values())
            items = sum(size * n for size, n in sizes.items())
            rows.append(
                {
                    "model": model,
                    "replica": replica,
                    "batches": batches,
                    "items": items,
                    "mean_batch": round(items / batches, 2) if batches else 0.0,
                    "max_batch": max(sizes) if sizes else 0,
                    "batch_sizes": dict(sorted(sizes.items())),
                    "last_batch_at": self._seen.get((model, replica)),
                }
            )
        return rows

    def open_streams(self) -> int:
        return len(self._open)


_RemoteBoard = ray.remote(num_cpus=0, max_restarts=-1)(Board)


def get_board(namespace: str) -> ray.actor.ActorHandle:
    """The suite's board in ``namespace``, started on first use.

    Detached, like Serve's own controller: it belongs to the cluster, not to the process
    that happened to start it, so replicas and later pages processes keep reaching it.
    """
    return _RemoteBoard.options(
        name=BOARD_NAME, namespace=namespace, get_if_exists=True, lifetime="detached"
    ).remote()
