"""What each request costs: compute seconds, tokens, audio seconds and images, per app and model.

The micro-batcher charges every batch it runs (``ModelCosts``), and the ledger
(``CostLedger``, one per manager) adds the charges up per hour, per caller ("app")
and per model. Prices from settings (``cost.cpu_hour_price``, ``cost.gpu_hour_price``)
turn compute seconds into money.

How a batch's compute is measured:

- **CPU seconds**: process CPU time (``time.process_time``, every thread: torch's
  worker threads do most of the work) while the runner runs, model loading excluded.
  When batches of several models run at once, each stretch of CPU time is split
  equally among the batches running in it (``OverlapClock``), so nothing is counted
  twice. Other work the process does meanwhile (the web server, app code) is counted
  too: the figure is an upper bound on a busy server, exact on a quiet one.
- **GPU seconds**: on a CUDA device, the batch's wall time, split the same way among
  batches running at once (the GPU is held while a batch runs). A model on the GPU is
  priced by its GPU seconds alone; its host CPU is part of the GPU-hour price.

How a batch is split among its requests (``split_weights``): generation results by
their tokens (prompt + new: prefill and decode work both grow with them); every other
input by an equal share. An input refused with an error gets no share, unless every
input failed (then the batch's compute is split equally). A batch that failed as a
whole and is retried request by request is charged to its requests equally, without
counting them as requests twice. Cheap ``direct`` requests (token counts, model facts)
run outside batches and are not charged.

Who is "the app": ``caller()``. Inside ``with cost_scope("name"):`` it is that name;
otherwise the package of the innermost calling module outside the core and the
standard library, two levels deep (``apps.speech``, ``bench.cost``, ``tests.core``).
That needs no change in any app or handle call, and it survives an app calling
another app's API (the innermost one, which calls the model, is charged).
"""

from __future__ import annotations

import contextlib
import contextvars
import csv
import io
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from shared_models.types.speech import SAMPLE_RATE, TranscriptionRequest
from shared_models.types.vision import ClassifyRequest, DetectRequest

UNATTRIBUTED = "unattributed"
_KEEP_HOURS = 24 * 31  # hourly rows (and so the totals) cover the last 31 days

_scope: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "springboard_cost_scope", default=None
)


# ------------------------------------------------------------------ who asked
@contextlib.contextmanager
def cost_scope(app: str) -> Iterator[None]:
    """Charge the model calls made inside this block (and tasks and threads it starts
    with ``asyncio``) to ``app``, whatever module makes them."""
    if not app or not isinstance(app, str):
        raise ValueError("cost_scope needs a non-empty app name")
    token = _scope.set(app)
    try:
        yield
    finally:
        _scope.reset(token)


def caller(depth: int = 1) -> str:
    """The app to charge for a call made ``depth`` frames above this one (see the module doc)."""
    scoped = _scope.get()
    if scoped is not None:
        return scoped
    frame = sys._getframe(depth)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        top = module.partition(".")[0]
        if module and top != "core" and top not in sys.stdlib_module_names:
            parts = module.split(".")
            return ".".join(parts[:2])
        frame = frame.f_back
    return UNATTRIBUTED


# ------------------------------------------------------------------ what it used
@dataclass
class Usage:
    """What some requests used. Adding two gives their sum."""

    requests: int = 0
    items: int = 0
    errors: int = 0
    cpu_seconds: float = 0.0
    gpu_seconds: float = 0.0
    tokens_in: int = 0
    tokens_out: int = 0
    audio_seconds: float = 0.0
    images: int = 0

    def add(self, other: Usage) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def copy(self) -> Usage:
        return Usage(**asdict(self))


@dataclass(frozen=True)
class Prices:
    """What an hour of compute costs: per CPU core-hour and per GPU-hour."""

    cpu_hour: float = 0.0
    gpu_hour: float = 0.0
    currency: str = "USD"

    @classmethod
    def from_settings(cls, settings: Any) -> Prices:
        cost = settings.cost
        return cls(cost.cpu_hour_price, cost.gpu_hour_price, cost.currency)

    def money(self, usage: Usage) -> float:
        """GPU seconds at the GPU price plus CPU seconds at the CPU price.

        The ledger prices a model on the GPU by its GPU seconds alone (its CPU seconds are
        host time, part of the GPU-hour price).
        """
        return usage.gpu_seconds / 3600 * self.gpu_hour + usage.cpu_seconds / 3600 * self.cpu_hour


def item_usage(request: Any, output: Any) -> Usage:
    """The countable units of one input and its output (compute seconds are added later)."""
    usage = Usage(items=1)
    if isinstance(output, BaseException):
        usage.errors = 1
        return usage
    prompt, new = getattr(output, "prompt_tokens", None), getattr(output, "new_tokens", None)
    if isinstance(prompt, int) and isinstance(new, int):
        usage.tokens_in, usage.tokens_out = prompt, new
    if isinstance(request, TranscriptionRequest):
        usage.audio_seconds = len(request.audio) / SAMPLE_RATE
    elif isinstance(request, ClassifyRequest | DetectRequest):
        usage.images = 1
    return usage


def split_weights(units: list[Usage]) -> list[float]:
    """Each input's share of its batch's compute; the shares sum to 1 (see the module doc)."""
    if not units:
        return []
    ok = [u for u in units if not u.errors]
    if not ok:
        return [1 / len(units)] * len(units)
    if all(u.tokens_in + u.tokens_out > 0 for u in ok):
        raw = [0.0 if u.errors else float(u.tokens_in + u.tokens_out) for u in units]
    else:
        raw = [0.0 if u.errors else 1.0 for u in units]
    total = sum(raw)
    return [r / total for r in raw]


# ------------------------------------------------------------------ measuring
class OverlapClock:
    """Measures a clock over spans that may overlap, splitting shared stretches equally.

    Between any two span openings or closings, the clock's advance is divided among
    the spans open at that moment, so the spans' totals sum to the clock's advance
    while any span was open: nothing is counted twice.
    """

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._open: dict[int, float] = {}
        self._last = 0.0
        self._next_id = 0

    def _advance(self) -> None:
        now = self._clock()
        if self._open:
            share = (now - self._last) / len(self._open)
            for key in self._open:
                self._open[key] += share
        self._last = now

    def open(self) -> int:
        with self._lock:
            self._advance()
            self._next_id += 1
            self._open[self._next_id] = 0.0
            return self._next_id

    def close(self, span: int) -> float:
        """Close a span and return its seconds."""
        with self._lock:
            self._advance()
            return self._open.pop(span)


# One per process: process CPU time and the (one) GPU are shared by every manager.
CPU_CLOCK = OverlapClock(time.process_time)
GPU_CLOCK = OverlapClock(time.perf_counter)


@dataclass
class BatchMeter:
    """Compute measured while one batch ran (the runner's calls, summed over chunks)."""

    cpu_seconds: float = 0.0
    gpu_seconds: float = 0.0


@dataclass(frozen=True)
class BatchCharge:
    """How one batch was charged: its total, and each request's (app, usage)."""

    model: str
    cpu_seconds: float
    gpu_seconds: float
    parts: tuple[tuple[str, Usage], ...]


class ModelCosts:
    """Charges one model's batches to the apps that sent them (used by the micro-batcher).

    The batcher opens a meter per batch (``begin``); the handle measures the runner's
    call inside it (``measure``); the batcher then charges the batch to its requests
    (``charge``). The meter is per worker thread, so direct calls made in a caller's
    thread are not measured.
    """

    def __init__(
        self,
        ledger: CostLedger,
        model: str,
        role: str,
        on_gpu: bool,
        unwrap: Callable[[Any], Any] = lambda item: item,
    ) -> None:
        self.ledger = ledger
        self.model = model
        self.role = role
        self.on_gpu = on_gpu
        self._unwrap = unwrap
        self._local = threading.local()
        self.recent: deque[BatchCharge] = deque(maxlen=50)

    def begin(self) -> BatchMeter:
        meter = BatchMeter()
        self._local.meter = meter
        return meter

    @contextlib.contextmanager
    def measure(self) -> Iterator[None]:
        """Measure the block into this thread's open batch meter, if any."""
        meter: BatchMeter | None = getattr(self._local, "meter", None)
        if meter is None:
            yield
            return
        cpu = CPU_CLOCK.open()
        gpu = GPU_CLOCK.open() if self.on_gpu else None
        try:
            yield
        finally:
            meter.cpu_seconds += CPU_CLOCK.close(cpu)
            if gpu is not None:
                meter.gpu_seconds += GPU_CLOCK.close(gpu)

    def charge(
        self,
        meter: BatchMeter,
        parts: list[tuple[str, list[Any], list[Any]]],
        count_requests: bool = True,
        record: bool = True,
    ) -> BatchCharge:
        """Charge a finished batch: ``parts`` holds each request's (app, inputs, outputs).

        With ``count_requests=False`` (a failed batch about to be retried one by one) the
        compute is charged equally and no request, item or unit is counted. With
        ``record=False`` the charge is worked out and returned but not added to the ledger
        (a Ray replica sends each request's part back to the caller's ledger instead).
        """
        self._local.meter = None
        units = [
            item_usage(self._unwrap(x), y)
            for _, inputs, outputs in parts
            for x, y in zip(inputs, outputs, strict=True)
        ]
        weights = split_weights(units) if count_requests else [1 / len(units)] * len(units)
        charged: list[tuple[str, Usage]] = []
        i = 0
        for app, inputs, _ in parts:
            usage = Usage(requests=1) if count_requests else Usage()
            for _ in inputs:
                if count_requests:
                    usage.add(units[i])
                usage.cpu_seconds += meter.cpu_seconds * weights[i]
                usage.gpu_seconds += meter.gpu_seconds * weights[i]
                i += 1
            if count_requests and usage.items == usage.errors:
                usage.errors = 1  # a request whose every input failed is one failed request
            else:
                usage.errors = min(usage.errors, 1)
            charged.append((app, usage))
            if record:
                self.ledger.record(app, self.model, self.role, self.on_gpu, usage)
        charge = BatchCharge(self.model, meter.cpu_seconds, meter.gpu_seconds, tuple(charged))
        self.recent.append(charge)
        return charge


# ------------------------------------------------------------------ adding up
_KEY_FIELDS = ("hour", "app", "model")


@dataclass
class _Row:
    role: str
    on_gpu: bool
    usage: Usage = field(default_factory=Usage)


class CostLedger:
    """Usage per hour, app and model since the process started; money at ``prices``."""

    def __init__(self, prices: Prices, clock: Callable[[], float] = time.time) -> None:
        self.prices = prices
        self._clock = clock
        self._rows: dict[tuple[int, str, str], _Row] = {}
        self._lock = threading.Lock()
        self._models: dict[str, ModelCosts] = {}

    def for_model(
        self, model: str, role: str, on_gpu: bool, unwrap: Callable[[Any], Any] = lambda item: item
    ) -> ModelCosts:
        """The batch charger of one model (one per handle)."""
        costs = ModelCosts(self, model, role, on_gpu, unwrap)
        with self._lock:
            self._models[model] = costs
        return costs

    def record(self, app: str, model: str, role: str, on_gpu: bool, usage: Usage) -> None:
        hour = int(self._clock() // 3600) * 3600
        key = (hour, app, model)
        with self._lock:
            if key not in self._rows:
                self._rows[key] = _Row(role, on_gpu)
                oldest = hour - _KEEP_HOURS * 3600
                for old in [k for k in self._rows if k[0] < oldest]:
                    del self._rows[old]
            self._rows[key].usage.add(usage)

    def take(self, app: str) -> Usage:
        """Remove every row charged to ``app`` and return their sum.

        A Ray replica charges a stream under a name of its own (``cost_scope``) and hands
        the usage back to the caller, whose ledger charges the real app.
        """
        total = Usage()
        with self._lock:
            for key in [k for k in self._rows if k[1] == app]:
                total.add(self._rows.pop(key).usage)
        return total

    # ------------------------------------------------------------ views
    def rows(self) -> list[dict]:
        """One row per hour, app and model, oldest first: usage and money."""
        with self._lock:
            items = sorted((k, r.role, r.on_gpu, r.usage.copy()) for k, r in self._rows.items())
        return [
            self._row({"hour": _iso_hour(hour), "app": app, "model": model, "role": role,
                       "device": "gpu" if on_gpu else "cpu"}, usage, on_gpu)
            for (hour, app, model), role, on_gpu, usage in items
        ]  # fmt: skip

    def _row(self, head: dict, usage: Usage, on_gpu: bool) -> dict:
        priced = usage.copy()
        if on_gpu:
            priced.cpu_seconds = 0.0  # host time is in the GPU price
        return {**head, **_rounded(usage), "cost": self.prices.money(priced),
                "currency": self.prices.currency}  # fmt: skip

    def totals(self, by: str) -> list[dict]:
        """Usage and money summed per ``by`` (``"app"`` or ``"model"``), or overall (``"all"``)."""
        if by not in ("app", "model", "all"):
            raise ValueError(f"totals by 'app', 'model' or 'all', not {by!r}")
        sums: dict[str, tuple[Usage, float]] = {}
        for row in self.rows():
            key = "all" if by == "all" else row[by]
            usage, money = sums.get(key, (Usage(), 0.0))
            usage.add(Usage(**{f.name: row[f.name] for f in fields(Usage)}))
            sums[key] = (usage, money + row["cost"])
        out = []
        for key, (usage, money) in sorted(sums.items()):
            entry = {by: key} if by != "all" else {}
            entry.update(_rounded(usage))
            entry["cost"] = money
            entry["cost_per_request"] = money / usage.requests if usage.requests else 0.0
            entry["currency"] = self.prices.currency
            out.append(entry)
        return out

    def usage(self, app: str | None = None, model: str | None = None) -> Usage:
        """Usage summed over every hour, for one app and/or model (or all)."""
        total = Usage()
        with self._lock:
            for (_, a, m), row in self._rows.items():
                if (app is None or a == app) and (model is None or m == model):
                    total.add(row.usage)
        return total

    def report(self) -> dict:
        """Prices, totals per app, per model and overall, and the hourly rows (for /api/status)."""
        total = self.totals("all")
        return {
            "prices": asdict(self.prices),
            "total": total[0] if total else {**_rounded(Usage()), "cost": 0.0, "cost_per_request": 0.0,
                                             "currency": self.prices.currency},
            "by_app": self.totals("app"),
            "by_model": self.totals("model"),
            "by_hour": self.rows(),
        }  # fmt: skip

    def to_csv(self) -> str:
        """The hourly rows as CSV text (header first), for spreadsheets."""
        columns = [
            *_KEY_FIELDS,
            "role",
            "device",
            *(f.name for f in fields(Usage)),
            "cost",
            "currency",
        ]
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows())
        return buffer.getvalue()


def _iso_hour(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:00Z")


def _rounded(usage: Usage) -> dict:
    values = asdict(usage)
    for key in ("cpu_seconds", "gpu_seconds", "audio_seconds"):
        values[key] = round(values[key], 6)
    return values
