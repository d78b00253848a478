"""The Ray Serve deployment that serves one model: a replica runs the local backend's code.

A replica builds a ``ModelManager`` from the caller's settings, so it loads the model
with the same registry spec and loader as the local backend, and keeps its memory
budget. Then:

- **calls** are gathered across callers by ``@serve.batch`` (size and wait from the same
  settings as the local micro-batcher; a batch is counted in items, not calls), run as
  one forward pass, and each caller gets its own outputs; a bad input's exception comes
  back in its own slot, and a batch that crashes is rerun call by call so only the guilty
  caller sees the error;
- **text generation** calls go through the replica's local handle too, so the runner's
  continuous batching (``shared_models.text_generation_scheduler``) runs inside the replica;
- **cheap requests** (``direct``: token counts, model facts) skip the batch queue;
- **streams** go through the replica's local handle, so streams running at the same time
  on one replica share forward passes (its micro-batcher), and end early when the board
  says the caller cancelled;
- **costs**: the replica measures each batch's compute as the local micro-batcher does
  (``core.costs``: process CPU seconds, or GPU seconds on a GPU, split among the batch's
  requests by tokens or equally) and sends each caller its share with its outputs
  (``Reply``, or ``Final`` for a stream); the caller's handle charges it to the app that
  made the call, in the pages' ledger, so the status page's cost tables work as locally;
- **user-trained models** (intent heads, image classifiers, ``local:`` folders) are
  multiplexed onto the deployment of their role: the caller names the model in
  ``multiplexed_model_id`` and sends its spec along; ``@serve.multiplexed`` keeps the
  most recently used few per replica and unloads the rest.

Nothing here imports an app; requests and results are the plain types of
``shared_models.types``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from ray import serve

from ..costs import ModelCosts, Usage, cost_scope
from ..errors import SpringboardError, as_out_of_memory
from ..handles import _all_direct
from ..manager import ModelManager
from ..registry import ModelSpec
from ..settings import Settings
from .ray_board import get_board

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Final:
    """The last item a replica's stream yields: the request's result, or its error, and
    the compute it used in this replica (charged by the caller)."""

    result: Any = None
    error: BaseException | None = None
    usage: Usage | None = None
    on_gpu: bool = False


@dataclass(frozen=True)
class Reply:
    """What a replica's ``call`` returns: the outputs, in order (a failed input's exception
    in its slot), and what the call used here (``None`` for cheap ``direct`` requests, which
    are not charged, as locally)."""

    outputs: list[Any]
    usage: Usage | None = None
    on_gpu: bool = False


def _items(calls: list[tuple[str, list[Any]]]) -> int:
    return sum(len(inputs) for _, inputs in calls)


class _UserModel:
    """What ``@serve.multiplexed`` caches for one user-trained model: its name in the manager.

    Serve calls ``__del__`` when it unloads the model (least recently used first).
    """

    def __init__(self, manager: ModelManager, name: str) -> None:
        self.manager = manager
        self.name = name

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.manager.remove_model(self.name)


class ModelReplica:
    """One replica of one model's deployment (plus the user models multiplexed onto it)."""

    def __init__(self, settings: dict[str, Any], model: str | None, role: str) -> None:
        self.settings = Settings(**{**settings, "backend": "local"})
        self.manager = ModelManager(self.settings)
        self.role = role
        self.model = None
        if model is not None:
            # Resolved as the local backend does: a registered name, or the role's external source.
            self.model = self.manager.handle(model, role=role).name
        context = serve.get_replica_context()
        self.replica = context.replica_id.unique_id
        self.actor_name = context.replica_id.to_full_id_str()  # its actor name (liveness)
        self.board = get_board(self.settings.ray.namespace)
        self._pending: dict[str, ModelSpec] = {}
        self._costs: dict[str, ModelCosts] = {}
        self.on_gpu = self.manager.policy.is_cuda

        # Decorated here, not on the class, so the number kept per replica is a setting
        # (a plain function: Serve keeps its model cache on the function it wraps).
        async def load_user_model(model_id: str) -> _UserModel:
            return await self._load_user_model(model_id)

        self._user_model = serve.multiplexed(
            max_num_models_per_replica=self.settings.ray.max_models_per_replica
        )(load_user_model)
        # One batch size for the whole deployment: the model's own, as the local batcher uses.
        size, wait_ms = self.settings.max_batch_size, self.settings.batch_wait_ms
        if self.model is not None:
            own = self.manager.spec(self.model)
            size = own.max_batch_size or size
            wait_ms = own.batch_wait_ms if own.batch_wait_ms is not None else wait_ms
        self._batched.set_max_batch_size(size)
        self._batched.set_batch_wait_timeout_s(wait_ms / 1000)
        self.max_batch_size = size
        if self.model is not None and self.model in self.settings.warmup:
            self.manager.load(self.model)
        self._sent: tuple = ()
        self._sent_at = 0.0
        self._report_models(force=True)

    def _report_models(self, force: bool = False) -> Any:
        """Tell the board which models this replica holds, when that changed (or every 10 s,
        for the memory figure), so the pages show the cluster's real state. Returns the
        board call's reference (to wait on), or ``None`` when nothing was sent."""
        try:
            report = self.manager.report()
            models = [
                {k: m[k] for k in ("model", "role", "loaded", "in_use", "memory_mb", "load_seconds", "loads")}
                for m in report["models"]
            ]
            key = tuple((m["model"], m["loaded"], m["memory_mb"]) for m in models)
            now = time.monotonic()
            if not force and key == self._sent and now - self._sent_at < 10:
                return None
            self._sent, self._sent_at = key, now
            return self.board.record_models.remote(
                self.replica, self.actor_name, os.getpid(), report["process_rss_mb"], models
            )
        except Exception:  # reporting must never fail a request
            log.exception("could not report this replica's models to the board")
            return None

    # ------------------------------------------------------------------ models
    async def _load_user_model(self, model_id: str) -> _UserModel:
        spec = self._pending.pop(model_id)
        await asyncio.to_thread(self.manager.add_model, spec)
        self._report_models(force=True)
        return _UserModel(self.manager, spec.name)

    async def _model_for(self, spec: ModelSpec | None) -> str:
        """The manager's name for this request's model: the deployment's own, or a user's."""
        model_id = serve.get_multiplexed_model_id()
        if not model_id:
            if self.model is None:
                raise SpringboardError("This deployment serves only user models; name one.")
            return self.model
        if spec is not None:
            self._pending[model_id] = spec
        user = await self._user_model(model_id)
        return user.name

    # ------------------------------------------------------------------ calls
    async def call(self, inputs: list[Any], spec: ModelSpec | None = None) -> Reply:
        """Outputs in order (a failed input's exception stands in its slot, never raised),
        with the compute this call used."""
        name = await self._model_for(spec)
        if _all_direct(inputs):
            return Reply(await asyncio.to_thread(self._direct, name, inputs))
        if self.manager.spec(name).joins_running_batches:
            return await self._through_local_handle(name, inputs)
        outputs: list[Any] = []
        usage = Usage()
        # A call longer than a batch runs in batch-sized pieces, as the local batcher does.
        for i in range(0, len(inputs), self.max_batch_size):
            part, used = await self._batched((name, inputs[i : i + self.max_batch_size]))
            outputs.extend(part)
            usage.add(used)
        # The pieces are one request, with an error if any input failed (as ModelCosts counts).
        usage.requests, usage.errors = 1, min(usage.errors, 1)
        return Reply(outputs, usage, self.on_gpu)

    async def _through_local_handle(self, name: str, inputs: list[Any]) -> Reply:
        """Text generation batches continuously inside its runner: a call goes through the
        replica's local handle, whose batcher hands it to the decode loop at once, instead
        of waiting in a Serve batch for the one before to finish. Its compute is charged
        under a scope of its own in the replica's ledger and sent back, as for streams."""
        scope = f"ray-call:{uuid.uuid4().hex}"
        handle = self.manager.handle(name)

        def run() -> list[Any]:
            try:
                with cost_scope(scope):
                    return handle.call(list(inputs), return_exceptions=True)
            except Exception as exc:  # noqa: BLE001 - e.g. overloaded: each slot gets the error
                return [exc] * len(inputs)

        try:
            outputs = await asyncio.to_thread(run)
        finally:
            usage = self.manager.costs.take(scope)
            self._report_stream_batches(name)
            self._report_models()
        return Reply(outputs, usage, self.on_gpu)

    def _direct(self, name: str, inputs: list[Any]) -> list[Any]:
        with self.manager.use(name) as runner:
            return list(runner(list(inputs)))

    @serve.batch(max_batch_size=32, batch_wait_timeout_s=0.005, batch_size_fn=_items)
    async def _batched(self, calls: list[tuple[str, list[Any]]]) -> list[tuple[list[Any], Usage]]:
        # Serve splits batches by multiplexed model id, so one batch is one model.
        name = calls[0][0]
        return await asyncio.to_thread(self._run_calls, name, [inputs for _, inputs in calls])

    def _model_costs(self, name: str) -> ModelCosts:
        """The batch meter of one model in this replica (charges are sent back, not kept)."""
        if name not in self._costs:
            self._costs[name] = self.manager.costs.for_model(
                name, self.manager.spec(name).role, self.on_gpu
            )
        return self._costs[name]

    def _shares(
        self, costs: ModelCosts, meter: Any, calls: list[list[Any]], outputs: list[list[Any]], count: bool
    ) -> list[Usage]:
        """Each call's part of a batch's measured compute (``core.costs`` rules)."""
        try:
            parts = [(str(i), inputs, outs) for i, (inputs, outs) in enumerate(zip(calls, outputs, strict=True))]
            return [usage for _, usage in costs.charge(meter, parts, count, record=False).parts]
        except Exception:  # accounting must never fail a request
            log.exception("cost accounting failed for a batch of %s", costs.model)
            return [Usage(requests=1) if count else Usage() for _ in calls]

    def _run_calls(self, name: str, calls: list[list[Any]]) -> list[tuple[list[Any], Usage]]:
        flat = [x for inputs in calls for x in inputs]
        costs = self._model_costs(name)
        meter = costs.begin()
        try:
            # Metered inside ``use``: loading the model is not charged to the first callers.
            with self.manager.use(name) as runner, costs.measure():
                outputs = list(runner(flat))
            if len(outputs) != len(flat):
                raise SpringboardError(f"{name} returned {len(outputs)} outputs for {len(flat)} inputs")
        except BaseException as exc:  # noqa: BLE001 - every error must reach its own caller
            # The failed batch's compute is charged; a rerun one by one counts the requests.
            failed = self._shares(costs, meter, calls, [[exc] * len(c) for c in calls], len(calls) == 1)
            if len(calls) > 1:  # rerun one by one: only the guilty call gets the error
                results = [self._run_calls(name, [inputs])[0] for inputs in calls]
                for (_, usage), share in zip(results, failed, strict=True):
                    usage.add(share)
                return results
            error = as_out_of_memory(exc, name) or exc
            return [([error] * len(calls[0]), failed[0])]
        self.board.record_batch.remote(name, self.replica, len(flat))
        self._report_models()
        results, offset = [], 0
        for inputs in calls:
            results.append(outputs[offset : offset + len(inputs)])
            offset += len(inputs)
        return list(zip(results, self._shares(costs, meter, calls, results, True), strict=True))

    # ------------------------------------------------------------------ streams
    async def stream(self, request: Any, spec: ModelSpec | None = None) -> AsyncIterator[Any]:
        """The request's events, then ``Final`` with its result (or its error)."""
        # The replica's micro-batcher charges the stream under this name in the replica's
        # ledger; the usage is taken out of it and sent to the caller with the result.
        scope = f"ray-stream:{uuid.uuid4().hex}"
        try:
            name = await self._model_for(spec)
            with cost_scope(scope):
                local = self.manager.handle(name).stream(request)
        except Exception as exc:  # noqa: BLE001 - bad requests end the stream with their error
            yield Final(error=exc)
            return
        loop = asyncio.get_running_loop()
        events: asyncio.Queue[Any] = asyncio.Queue()

        def push(event: Any) -> None:
            loop.call_soon_threadsafe(events.put_nowait, event)

        # One thread follows the local stream; its events arrive here in order, and all of
        # them before the thread's own completion (both go through the loop's FIFO).
        finished = asyncio.ensure_future(asyncio.to_thread(local.follow, push))
        watcher = asyncio.ensure_future(self._cancel_when_asked(local))
        try:
            while True:
                getter = asyncio.ensure_future(events.get())
                await asyncio.wait({getter, finished}, return_when=asyncio.FIRST_COMPLETED)
                if getter.done():
                    yield getter.result()
                    continue
                getter.cancel()
                if getter.done() and not getter.cancelled():
                    yield getter.result()
                while not events.empty():
                    yield events.get_nowait()
                break
        except BaseException:  # the caller went away (Ray cancelled us): stop the runner too
            local.cancel()
            raise
        finally:
            watcher.cancel()
        usage = self.manager.costs.take(scope)
        try:
            result = finished.result()
        except Exception as exc:  # noqa: BLE001 - the request's own error goes to its caller
            yield Final(error=exc, usage=usage, on_gpu=self.on_gpu)
        else:
            yield Final(result=result, usage=usage, on_gpu=self.on_gpu)
        finally:
            self._report_stream_batches(name)
            self._report_models()

    def _report_stream_batches(self, name: str) -> None:
        """Streams batch in the replica's micro-batcher: send its histogram to the board."""
        sizes = self.manager.metrics.for_model(name).snapshot()["batch_sizes"]
        self.board.record_stream_batches.remote(name, self.replica, sizes)

    async def _cancel_when_asked(self, local: Any) -> None:
        if await self.board.wait_cancel.remote(local.request_id):
            local.cancel()

    async def load(self, spec: ModelSpec | None = None) -> None:
        """Load the request's model in this replica now (warm-up)."""
        name = await self._model_for(spec)
        await asyncio.to_thread(self.manager.load, name)
        sent = self._report_models(force=True)
        if sent is not None:  # on the board before the caller's next question
            await sent

    # ------------------------------------------------------------------ facts
    async def info(self) -> dict:
        """This replica: its id, and the manager's report (loaded models, memory)."""
        report = await asyncio.to_thread(self.manager.report)
        return {"replica": self.replica, "pid": os.getpid(), "model": self.model, **report}

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.manager.close()


ModelDeployment = serve.deployment(ModelReplica)
"""The deployment every model gets; ``RayBackend`` sets its name, replicas and resources."""


def build_app(args: dict[str, str]) -> Any:
    """The application builder ``serve deploy`` calls (see deploy/serve_config.yaml).

    ``args``: ``role`` (required) and ``model`` (default: the role's configured model;
    empty for a role's user-model deployment). Settings come from the replica's environment
    (``SPRINGBOARD_*``, ``SPRINGBOARD_CONFIG``), as they do for the pages.
    """
    from .ray_serve import app_name, deployment_options, replica_settings, role_app_name

    role = args.get("role")
    if not role:
        raise SpringboardError("A Springboard application's args need a role, e.g. {role: embedding}.")
    settings = Settings()
    model = args.get("model", getattr(settings.models, role, None)) or None
    name = app_name(model) if model else role_app_name(role)
    options = deployment_options(settings, role, model, gpus=bool(args.get("gpus", False)))
    return ModelDeployment.options(name=name, **options).bind(replica_settings(settings), model, role)
