"""The Ray Serve backend: the same handles, with each model in its own Serve deployment.

``SPRINGBOARD_BACKEND=ray`` makes the manager hand out ``RayHandle``s. The first handle
of a model deploys it (one Serve application per model, named after it), unless a
deployment of that name already runs: one started by ``serve deploy deploy/serve_config.yaml``
or by another pages process. A replica (``ray_replica.ModelReplica``) loads the model with
the same registry spec and loader as the local backend.

Models that users train (``local:`` folders, ``add_model``/``add_local_model``) get no
deployment of their own: they are multiplexed onto the deployment of their role's
configured model (or onto ``<role>-models`` for roles with none, like ``embedding_head``).

Costs: the replica measures each batch's compute (``core.costs`` rules) and returns each
caller's share with its outputs; the handle charges it, in this process's ledger
(``manager.costs``), to the app that made the call (``core.costs.caller()``, read here, where
the call is made). Compute spent on a replica that dies mid-request is not charged.

Faults: a call whose replica dies is retried (``ray.retries`` times) on another replica
or on the one Serve restarts; then it fails with ``ModelUnavailableError``. A stream
whose replica dies ends with that error (its events cannot be replayed).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

import ray
from ray import serve
from ray.exceptions import ActorUnavailableError, RayActorError, RayTaskError

from ..costs import caller
from ..errors import InvalidInputError, ModelUnavailableError
from ..handles import ModelHandle
from ..registry import EXTERNAL_PREFIXES, ModelSpec
from ..settings import DEFAULT_GPU_SHARES, Settings
from ..streaming import RequestStream, StreamChannel, request_id_of
from .ray_board import get_board
from .ray_replica import Final, ModelDeployment, Reply

if TYPE_CHECKING:
    from ..manager import ModelManager

log = logging.getLogger(__name__)
_REPLICA_LOST = (RayActorError, ActorUnavailableError)
SERVE_ACTOR_NAMESPACE = "serve"  # where Serve names its replica actors (ray.serve constants)


def app_name(model: str) -> str:
    """The Serve application (and deployment) name of a model: its name, made URL-safe."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", model).strip("_") or "model"


def role_app_name(role: str) -> str:
    """The deployment that hosts only user models, for roles with no configured model."""
    return app_name(f"{role}-models")


def replica_settings(settings: Settings) -> dict[str, Any]:
    """The settings a replica is built from: the caller's, less the page login.

    The replica runs the model in its own process: its backend is the local one.
    """
    values = settings.model_dump(mode="json", exclude={"auth_username", "auth_password"})
    return {**values, "backend": "local"}


def deployment_options(settings: Settings, role: str, model: str | None, gpus: bool) -> dict:
    """Serve options for a role's deployment: replicas or autoscaling, CPUs, GPU share."""
    cfg = settings.ray.for_role(role)
    num_gpus = cfg.num_gpus
    if num_gpus is None:
        num_gpus = DEFAULT_GPU_SHARES.get(role, 0.1) if gpus and settings.device != "cpu" else 0.0
    options: dict[str, Any] = {
        "ray_actor_options": {"num_cpus": cfg.num_cpus, "num_gpus": num_gpus},
        # Serve's default of 5 ongoing requests per replica would cap every batch at 5.
        "max_ongoing_requests": settings.ray.max_ongoing_requests or 2 * settings.max_batch_size,
    }
    if cfg.max_replicas is not None and cfg.max_replicas > cfg.min_replicas:
        options["autoscaling_config"] = {
            "min_replicas": cfg.min_replicas,
            "initial_replicas": max(cfg.min_replicas, 1),
            "max_replicas": cfg.max_replicas,
            "target_ongoing_requests": cfg.target_ongoing_requests,
        }
    else:
        options["num_replicas"] = cfg.num_replicas
    return options


class RayBackend:
    """Deploys models on Ray Serve on first use and hands out ``RayHandle``s."""

    kind = "ray"

    def __init__(self, manager: ModelManager) -> None:
        self.manager = manager
        self.settings = manager.settings
        self._lock = threading.RLock()
        self._deployments: dict[str, Any] = {}  # app name -> DeploymentHandle
        self._user_ids: dict[str, tuple[ModelSpec, str]] = {}
        self._started_cluster = False
        self._board: Any = None

    # ------------------------------------------------------------------ cluster
    def connect(self) -> None:
        """Join the cluster (``ray.address``) or start a local one, once."""
        with self._lock:
            if self._board is not None:
                return
            if not ray.is_initialized():
                address = self.settings.ray.address
                ray.init(
                    address=address or "local",
                    namespace=self.settings.ray.namespace,
                    include_dashboard=False if address is None else None,
                    log_to_driver=False,
                )
                self._started_cluster = address is None
            serve.start(http_options={"host": "127.0.0.1", "port": self.settings.ray.http_port})
            self._board = get_board(self.settings.ray.namespace)

    @property
    def board(self) -> Any:
        self.connect()
        return self._board

    def _has_gpus(self) -> bool:
        return ray.cluster_resources().get("GPU", 0) > 0

    # ------------------------------------------------------------------ deployments
    def handle(self, spec: ModelSpec) -> ModelHandle:
        self.connect()
        if self._is_user_model(spec):
            base = self._base_model(spec.role)
            deployment = self._deploy(spec.role, base)
            return RayHandle(self, spec, deployment, self._user_model_id(spec), spec)
        return RayHandle(self, spec, self._deploy(spec.role, spec.name), "", None)

    def _configured(self, role: str) -> str | None:
        choice = getattr(self.settings.models, role, None)
        return choice if isinstance(choice, str) else None

    def _is_user_model(self, spec: ModelSpec) -> bool:
        """Whether a replica cannot build it from the name alone: it was trained or added here."""
        if spec.name == self._configured(spec.role):
            return False
        if spec.name.startswith(EXTERNAL_PREFIXES):
            return True
        return not getattr(spec.load, "__module__", "").startswith("shared_models.")

    def _base_model(self, role: str) -> str | None:
        choice = self._configured(role)
        return self.manager.spec(role).name if choice else None

    def _user_model_id(self, spec: ModelSpec) -> str:
        """A multiplexed model id that changes when the model is added again (new artefact)."""
        with self._lock:
            known = self._user_ids.get(spec.name)
            if known is not None and known[0] is spec:
                return known[1]
            version = int(known[1].rsplit("@", 1)[1]) + 1 if known else 1
            model_id = f"{spec.name}@{version}"
            self._user_ids[spec.name] = (spec, model_id)
            return model_id

    def _deploy(self, role: str, model: str | None) -> Any:
        """The handle of the deployment serving ``model`` (``None``: the role's user models)."""
        name = app_name(model) if model else role_app_name(role)
        with self._lock:
            if name in self._deployments:
                return self._deployments[name]
            if name not in serve.status().applications:
                options = deployment_options(self.settings, role, model, self._has_gpus())
                app = ModelDeployment.options(name=name, **options).bind(
                    replica_settings(self.settings), model, role
                )
                log.info("deploying %s on Ray Serve (%s)", name, options)
                started = time.perf_counter()
                serve.run(app, name=name, route_prefix=None)
                self.manager._event(
                    "deployed", name, f"Ray Serve, {time.perf_counter() - started:.1f} s"
                )
            handle = serve.get_app_handle(name)
            self._deployments[name] = handle
            return handle

    def load(self, handle: ModelHandle) -> None:
        """Load the model in a replica now (warm-up), rather than on its first call."""
        assert isinstance(handle, RayHandle)
        handle._options(method_name="load").remote(handle._user_spec).result(
            timeout_s=self.settings.ray.call_timeout_s
        )

    # ------------------------------------------------------------------ reporting
    def _live_replicas(self) -> list[dict]:
        """The board's per-replica reports, from replicas still alive (dead ones are forgotten).

        Serve never restarts a replica actor (it starts a new one), so a replica whose named
        actor is gone is gone for good.
        """
        live = []
        for row in ray.get(self._board.replica_models.remote(), timeout=10):
            try:
                ray.get_actor(row["actor"], namespace=SERVE_ACTOR_NAMESPACE)
            except ValueError:
                self._board.forget_replica.remote(row["replica"])
                continue
            live.append(row)
        return live

    def _spec_or_none(self, name: str) -> ModelSpec | None:
        try:
            return self.manager.spec(name)
        except Exception:  # noqa: BLE001 - a deployment or user model this process does not know
            return None

    def model_rows(self) -> list[dict]:
        """The models as the cluster holds them, in the manager's report format: loaded when a
        live replica holds it, memory summed over replicas, plus the deployment's state, its
        replicas, the requests in flight from this process, and the batches it ran."""
        if self._board is None:
            return []
        applications = serve.status().applications
        replicas = self._live_replicas()
        batches = ray.get(self._board.batch_stats.remote(), timeout=10)
        in_flight = {m["model"]: m["queue_depth"] for m in self.manager.metrics.snapshot()}
        held: dict[str, list[dict]] = {}
        for replica in replicas:
            for model in replica["models"]:
                held.setdefault(model["model"], []).append(model)
        names = set(held)
        for app in applications:  # deployed models no replica has reported yet
            spec = self._spec_or_none(app)
            if spec is not None and app_name(spec.name) == app:
                names.add(spec.name)
        rows = []
        for name in sorted(names):
            spec = self._spec_or_none(name)
            mine = held.get(name, [])
            role = spec.role if spec is not None else mine[0]["role"]
            app = app_name(name)
            if app not in applications:  # a user model, multiplexed on its role's deployment
                base = self._base_model(role)
                app = app_name(base) if base else role_app_name(role)
            overview = applications.get(app)
            deployment = next(iter(overview.deployments.values()), None) if overview else None
            loaded = [m for m in mine if m["loaded"]]
            ran = [b for b in batches if b["model"] == name]
            batch_count, items = sum(b["batches"] for b in ran), sum(b["items"] for b in ran)
            rows.append(
                {
                    "model": name,
                    "role": role,
                    "loaded": bool(loaded),
                    "in_use": sum(m["in_use"] for m in mine),
                    "memory_mb": round(sum(m["memory_mb"] for m in loaded), 1),
                    "approx_mb": spec.approx_mb if spec is not None else 0,
                    "load_seconds": max((m["load_seconds"] for m in loaded), default=0.0),
                    "loads": sum(m["loads"] for m in mine),
                    "source": spec.source if spec is not None else "",
                    "deployment": app,
                    "state": _value(deployment.status) if deployment else "not deployed",
                    "replicas": {_value(k): v for k, v in deployment.replica_states.items()}
                    if deployment
                    else {},
                    "replicas_loaded": len(loaded),
                    "waiting": in_flight.get(name, 0),
                    "batches": batch_count,
                    "mean_batch": round(items / batch_count, 2) if batch_count else 0.0,
                }
            )
        return rows

    def serving_metrics(self, metrics: list[dict]) -> list[dict]:
        """This process's metrics per model (requests, latency, queue as seen from here), with
        the batches the model's replicas ran in place of the pages' own (which run none)."""
        if self._board is None:
            return metrics
        stats = ray.get(self._board.batch_stats.remote(), timeout=10)
        for row in metrics:
            sizes: Counter[int] = Counter()
            for replica in (b for b in stats if b["model"] == row["model"]):
                sizes.update({int(k): v for k, v in replica["batch_sizes"].items()})
            if not sizes:
                continue
            batches, items = sum(sizes.values()), sum(k * n for k, n in sizes.items())
            row.update(batches=batches, mean_batch=round(items / batches, 2), max_batch=max(sizes),
                       batch_sizes=dict(sorted(sizes.items())))  # fmt: skip
        return metrics

    def report(self) -> dict:
        """Ray deployments for the status page, under ``cluster``: replicas and their state,
        requests waiting on them from this process, and the batches their replicas ran."""
        if self._board is None:
            return {"cluster": {"backend": "ray", "connected": False, "deployments": []}}
        status = serve.status()
        batches = ray.get(self._board.batch_stats.remote(), timeout=10)
        in_flight = {m["model"]: m["queue_depth"] for m in self.manager.metrics.snapshot()}
        deployments = []
        for app, overview in status.applications.items():
            for dep_name, dep in overview.deployments.items():
                mine = [b for b in batches if app_name(b["model"]) == app or b["model"] == app]
                batch_count = sum(b["batches"] for b in mine)
                items = sum(b["items"] for b in mine)
                deployments.append(
                    {
                        "application": app,
                        "deployment": dep_name,
                        "status": _value(dep.status),
                        "replicas": {_value(k): v for k, v in dep.replica_states.items()},
                        "waiting": sum(n for m, n in in_flight.items() if app_name(m) == app),
                        "batches": batch_count,
                        "mean_batch": round(items / batch_count, 2) if batch_count else 0.0,
                        "max_batch": max((b["max_batch"] for b in mine), default=0),
                        "message": dep.message,
                    }
                )
        return {
            "cluster": {
                "backend": "ray",
                "connected": True,
                "address": self.settings.ray.address or "local cluster",
                "resources": ray.cluster_resources(),
                "deployments": deployments,
                "replica_batches": batches,
                "replica_memory": [
                    {"replica": r["replica"], "pid": r["pid"], "rss_mb": r["rss_mb"],
                     "models": [m["model"] for m in r["models"] if m["loaded"]]}
                    for r in self._live_replicas()
                ],  # fmt: skip
            }
        }

    def close(self) -> None:
        """Stop the local cluster this backend started; leave a shared cluster running."""
        with self._lock:
            self._deployments.clear()
            if self._started_cluster and ray.is_initialized():
                with contextlib.suppress(Exception):
                    serve.shutdown()
                ray.shutdown()
            self._board = None
            self._started_cluster = False


def _value(state: Any) -> str:
    """A Serve status enum as its text (``HEALTHY``, ``RUNNING``)."""
    return str(getattr(state, "value", state))


def _unwrap(exc: BaseException) -> BaseException:
    """The replica's own exception inside a Ray task error, when there is one."""
    if isinstance(exc, RayTaskError) and isinstance(exc.cause, Exception):
        return exc.cause
    return exc


class RayHandle(ModelHandle):
    """A handle whose calls run in a Serve deployment; same semantics as ``LocalHandle``."""

    def __init__(
        self,
        backend: RayBackend,
        spec: ModelSpec,
        deployment: Any,
        model_id: str,
        user_spec: ModelSpec | None,
    ) -> None:
        self.name = spec.name
        self.role = spec.role
        self.spec = spec
        self._backend = backend
        self._deployment = deployment
        self._model_id = model_id
        self._user_spec = user_spec
        self._settings = backend.settings.ray
        self._metrics = backend.manager.metrics.for_model(spec.name)
        self._ledger = backend.manager.costs
        self._streams: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _options(self, **kwargs: Any) -> Any:
        if self._model_id:
            kwargs["multiplexed_model_id"] = self._model_id
        return self._deployment.options(**kwargs)

    def _lost(self, exc: BaseException) -> ModelUnavailableError:
        return ModelUnavailableError(
            f"The Ray replica serving {self.name} was lost mid-request ({type(exc).__name__}); "
            "Ray Serve restarts it. Try again shortly."
        )

    # ------------------------------------------------------------------ calls
    def call(self, inputs: list[Any], return_exceptions: bool = False) -> list[Any]:
        app = caller()  # here, in the caller's thread: the app is found from its stack
        return self._finish(inputs, return_exceptions, lambda: self._call_once(inputs, app))

    async def acall(self, inputs: list[Any], return_exceptions: bool = False) -> list[Any]:
        app = caller()  # before the worker thread, whose stack no longer shows the app
        return await asyncio.to_thread(
            self._finish, inputs, return_exceptions, lambda: self._call_once(inputs, app)
        )

    def _call_once(self, inputs: list[Any], app: str) -> list[Any]:
        response = self._options(method_name="call").remote(inputs, self._user_spec)
        reply: Reply = response.result(timeout_s=self._settings.call_timeout_s)
        self._charge(app, reply.usage, reply.on_gpu)
        return reply.outputs

    def _charge(self, app: str, usage: Any, on_gpu: bool) -> None:
        """Charge what the replica measured to ``app``, in this process's ledger."""
        if usage is not None:
            self._ledger.record(app, self.name, self.role, on_gpu, usage)

    def _finish(
        self, inputs: list[Any], return_exceptions: bool, run: Callable[[], list[Any]]
    ) -> list[Any]:
        if not isinstance(inputs, list):
            raise InvalidInputError(f"{self.name} takes a list of inputs, got {type(inputs).__name__}")
        if not inputs:
            return []
        started = time.perf_counter()
        self._metrics.queue_changed(+1)
        ok = False
        try:
            for attempt in range(self._settings.retries + 1):
                try:
                    outputs = run()
                    break
                except _REPLICA_LOST as exc:
                    log.warning("%s: replica lost (%s), attempt %d", self.name, exc, attempt + 1)
                    if attempt == self._settings.retries:
                        raise self._lost(exc) from exc
                    time.sleep(min(2.0**attempt, 10.0))  # Serve needs a moment to notice and restart
                except RayTaskError as exc:
                    raise _unwrap(exc) from exc
            error = next((o for o in outputs if isinstance(o, BaseException)), None)
            ok = error is None
            if error is not None and not return_exceptions:
                raise error
            return outputs
        finally:
            self._metrics.queue_changed(-1)
            self._metrics.record_request(time.perf_counter() - started, ok)

    def replica_info(self) -> dict:
        """One replica's facts (id, process id, loaded models): for tests and operators."""
        return self._options(method_name="info").remote().result(timeout_s=60)

    # ------------------------------------------------------------------ streams
    def stream(self, request: Any) -> RequestStream:
        if not self.spec.streams:
            raise InvalidInputError(f"{self.name} does not stream")
        request_id = request_id_of(request)
        channel = StreamChannel(request_id)
        with self._lock:
            if request_id in self._streams:
                raise InvalidInputError(f"A request with id {request_id!r} is already streaming.")
            self._streams[request_id] = channel
        board = self._backend.board
        try:
            # Opened before the stream starts, so a cancel right after this returns is not lost.
            ray.get(board.open.remote(request_id))
            generator = self._options(method_name="stream", stream=True).remote(
                request, self._user_spec
            )
        except BaseException:
            with self._lock:
                self._streams.pop(request_id, None)
            raise
        future: Future = Future()
        self._metrics.queue_changed(+1)
        pump = threading.Thread(
            target=self._pump,
            args=(request_id, generator, channel, future, time.perf_counter(), caller()),
            name=f"ray-stream-{request_id}",
            daemon=True,
        )
        pump.start()
        return RequestStream(request_id, channel, future, lambda: self.cancel(request_id))

    def _pump(
        self,
        request_id: str,
        generator: Any,
        channel: StreamChannel,
        future: Future,
        started: float,
        app: str,
    ) -> None:
        """Pass the replica's events into the local channel; its ``Final`` settles the future
        and carries the compute the stream used, charged to ``app``."""
        outcome: Any = self._lost(RuntimeError("the stream ended without a result"))
        try:
            for item in generator:
                if isinstance(item, Final):
                    outcome = item.error if item.error is not None else item
                    self._charge(app, item.usage, item.on_gpu)
                    break
                channel.emit(item)
        except _REPLICA_LOST as exc:
            outcome = self._lost(exc)
        except RayTaskError as exc:
            outcome = _unwrap(exc)
        except Exception as exc:  # noqa: BLE001 - any other end of the stream is its error
            outcome = exc
        finally:
            ok = isinstance(outcome, Final)
            if ok:
                future.set_result(outcome.result)
            else:
                future.set_exception(outcome)
            channel.end()
            with self._lock:
                self._streams.pop(request_id, None)
            self._metrics.queue_changed(-1)
            self._metrics.record_request(time.perf_counter() - started, ok)
            with contextlib.suppress(Exception):
                self._backend.board.close.remote(request_id)

    def cancel(self, request_id: str) -> bool:
        with self._lock:
            if request_id not in self._streams:
                return False
        return bool(ray.get(self._backend.board.cancel.remote(request_id), timeout=30))

    def close(self) -> None:
        with self._lock:
            running = list(self._streams)
        for request_id in running:
            with contextlib.suppress(Exception):
                self.cancel(request_id)

