"""The model manager: one load under concurrency, LRU eviction within a budget, handles."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

from core.errors import MemoryBudgetError, ModelUnavailableError, UnknownModelError
from core.manager import ModelManager
from core.registry import LoadContext, ModelRegistry, ModelRunner, ModelSpec
from core.settings import Settings

MB = 1024 * 1024


class LinearRunner(ModelRunner):
    """A real (small) torch model: a linear layer whose size we control."""

    def __init__(self, megabytes: int) -> None:
        n = int((megabytes * MB / 4) ** 0.5)
        self.layer = torch.nn.Linear(n, n, bias=False)
        with torch.no_grad():
            self.layer.weight.copy_(torch.eye(n))

    def __call__(self, inputs: list) -> list:
        x = torch.tensor(inputs, dtype=torch.float32)
        padded = torch.nn.functional.pad(x[:, None], (0, self.layer.in_features - 1))
        return self.layer(padded)[:, 0].tolist()


def _registry(loads: dict[str, int], delay: float = 0.0) -> ModelRegistry:
    reg = ModelRegistry()
    lock = threading.Lock()

    def make(name: str, mb: int):
        def load(ctx: LoadContext) -> ModelRunner:
            with lock:
                loads[name] = loads.get(name, 0) + 1
            time.sleep(delay)
            return LinearRunner(mb)

        return load

    for name in ("a", "b", "c"):
        reg.register(ModelSpec(name=name, role="toy", load=make(name, 40), approx_mb=40, source="test"))
    reg.register(ModelSpec(name="huge", role="toy", load=make("huge", 10), approx_mb=10_000, source="test"))

    def broken(ctx: LoadContext) -> ModelRunner:
        raise OSError("disk on fire")

    reg.register(ModelSpec(name="broken", role="toy", load=broken, approx_mb=1, source="test"))
    return reg


@pytest.fixture
def toy_settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path, memory_budget_mb=100, device="cpu", batch_wait_ms=5)


def test_one_load_under_concurrency(toy_settings):
    loads: dict[str, int] = {}
    mgr = ModelManager(toy_settings, registry=_registry(loads, delay=0.3))
    handle = mgr.handle("a")
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda v: handle.call([float(v)]), range(16)))
    assert results == [[float(v)] for v in range(16)]
    assert loads == {"a": 1}
    assert mgr.handle("a") is handle, "handles are shared too"
    mgr.close()


def test_models_load_lazily(toy_settings):
    loads: dict[str, int] = {}
    mgr = ModelManager(toy_settings, registry=_registry(loads))
    mgr.handle("a")
    assert loads == {} and not mgr.is_loaded("a")
    mgr.warmup(["a"])
    assert loads == {"a": 1} and mgr.is_loaded("a")


def test_budget_of_two_models_evicts_least_recently_used(toy_settings):
    loads: dict[str, int] = {}
    mgr = ModelManager(toy_settings, registry=_registry(loads))
    mgr.handle("a").call([1.0])
    mgr.handle("b").call([1.0])
    mgr.handle("a").call([1.0])  # a is now more recent than b
    mgr.handle("c").call([1.0])
    assert sorted(mgr.loaded_models()) == ["a", "c"]
    evictions = [e for e in mgr.report()["events"] if e["event"] == "evicted"]
    assert [e["model"] for e in evictions] == ["b"]
    assert mgr.used_bytes() <= mgr.budget_bytes


def test_a_model_in_use_is_never_evicted(toy_settings):
    mgr = ModelManager(toy_settings, registry=_registry({}))
    with mgr.use("a"):
        mgr.load("b")
        mgr.load("c")  # must evict b (idle), not a (in use)
        assert mgr.is_loaded("a") and not mgr.is_loaded("b") and mgr.is_loaded("c")
        assert not mgr.unload("a")
    assert mgr.unload("a")


def test_a_model_bigger_than_the_budget_is_refused_clearly(toy_settings):
    mgr = ModelManager(toy_settings, registry=_registry({}))
    with pytest.raises(MemoryBudgetError, match="SPRINGBOARD_MEMORY_BUDGET_MB"):
        mgr.load("huge")


def test_a_failed_load_is_a_clear_error_and_can_be_retried(toy_settings):
    mgr = ModelManager(toy_settings, registry=_registry({}))
    with pytest.raises(ModelUnavailableError, match="disk on fire"):
        mgr.handle("broken").call([1.0])
    assert mgr.handle("a").call([2.0]) == [2.0], "other models keep working"


def test_unknown_names_list_the_registered_ones(toy_settings):
    mgr = ModelManager(toy_settings, registry=_registry({}))
    with pytest.raises(UnknownModelError, match="Registered: a, b, broken, c, huge"):
        mgr.handle("nope")


def test_async_calls_are_batched_and_each_gets_its_own(toy_settings):
    mgr = ModelManager(toy_settings, registry=_registry({}))
    handle = mgr.handle("a")

    async def main():
        return await asyncio.gather(*(handle.acall([float(v)]) for v in range(20)))

    assert asyncio.run(main()) == [[float(v)] for v in range(20)]
    snap = mgr.report()["metrics"][0]
    assert snap["requests"] == 20 and snap["max_batch"] > 1


def test_report_lists_models_and_metrics(toy_settings):
    mgr = ModelManager(toy_settings, registry=_registry({}))
    mgr.handle("a").call([1.0, 2.0])
    report = mgr.report()
    assert report["device"].startswith("CPU")
    (entry,) = [m for m in report["models"] if m["model"] == "a"]
    assert entry["loaded"] and entry["memory_mb"] > 30
    assert report["metrics"][0]["batch_sizes"] == {2: 1}


def test_a_role_pointed_at_an_external_source_is_callable_through_its_handle(tmp_path):
    reg = _registry({})
    sources: list[str] = []

    def external(ctx: LoadContext) -> ModelRunner:
        sources.append(ctx.source)
        return LinearRunner(1)

    reg.register_external("embedding", external, approx_mb=1)
    settings = Settings(data_dir=tmp_path, device="cpu", models={"embedding": "local:/my/encoder"})
    mgr = ModelManager(settings, registry=reg)
    handle = mgr.handle("embedding")
    assert handle.name == "local:/my/encoder"
    assert handle.call([3.0]) == [3.0] and handle.call([4.0]) == [4.0]
    assert sources == ["local:/my/encoder"], "loaded once, told its source"


def test_an_external_source_can_be_named_with_its_role(toy_settings):
    reg = _registry({})
    reg.register_external("toy", lambda ctx: LinearRunner(1), approx_mb=1)
    mgr = ModelManager(toy_settings, registry=reg)
    with pytest.raises(UnknownModelError):
        mgr.handle("local:/elsewhere")  # no role: nobody knows which loader reads it
    handle = mgr.handle("local:/elsewhere", role="toy")
    assert handle.call([5.0]) == [5.0]
    assert mgr.handle("local:/elsewhere") is handle, "once resolved, the name alone finds it"


class ScaledRunner(LinearRunner):
    """A user-trained toy: multiplies by a factor read from its 'artefact'."""

    def __init__(self, factor: float) -> None:
        super().__init__(1)
        self.factor = factor

    def __call__(self, inputs: list) -> list:
        return [v * self.factor for v in super().__call__(inputs)]


def _user_spec(name: str, factor: float, loads: dict[str, int]) -> ModelSpec:
    def load(ctx: LoadContext) -> ModelRunner:
        loads[name] = loads.get(name, 0) + 1
        return ScaledRunner(factor)

    return ModelSpec(name=name, role="toy", load=load, approx_mb=1, source="user folder")


def test_add_model_serves_a_user_model_like_a_bundled_one(tmp_path) -> None:
    loads: dict[str, int] = {}
    mgr = ModelManager(Settings(data_dir=tmp_path, memory_budget_mb=100), registry=_registry({}))
    try:
        handle = mgr.add_model(_user_spec("user:double", 2.0, loads))
        assert "user:double" in mgr.model_names("toy")
        assert not mgr.is_loaded("user:double")  # lazy, like every model
        assert handle.call([1.0, 3.0]) == [2.0, 6.0]
        assert mgr.handle("user:double").call([5.0]) == [10.0]
        assert loads == {"user:double": 1}
        assert any(m["model"] == "user:double" and m["loaded"] for m in mgr.report()["models"])

        # Retraining under the same name: the next call loads the new artefact.
        handle = mgr.add_model(_user_spec("user:double", 3.0, loads))
        assert handle.call([1.0]) == [3.0]
        assert loads == {"user:double": 2}

        assert mgr.remove_model("user:double")
        assert "user:double" not in mgr.model_names()
        assert not mgr.remove_model("user:double")
        with pytest.raises(UnknownModelError):
            mgr.handle("user:double")
    finally:
        mgr.close()


def test_add_local_model_serves_a_folder_under_its_own_name(toy_settings, tmp_path):
    reg = _registry({})
    sources: list[str] = []

    def external(ctx: LoadContext) -> ModelRunner:
        sources.append(ctx.source)
        return LinearRunner(1)

    reg.register_external("toy", external, approx_mb=500, max_batch_size=4)
    mgr = ModelManager(toy_settings, registry=reg)
    folder = tmp_path / "mine"
    try:
        handle = mgr.add_local_model("user:mine", "toy", folder, description="my model", approx_mb=2)
        (spec,) = [s for s in mgr.model_specs("toy") if s.name == "user:mine"]
        assert spec.source == f"local:{folder}" and spec.description == "my model"
        assert spec.approx_mb == 2 and spec.max_batch_size == 4, "the role's settings, this size"
        assert not mgr.is_loaded("user:mine") and sources == [], "lazy"
        assert handle.call([2.0]) == [2.0]
        assert sources == [f"local:{folder}"], "the role's loader is told the folder"
        assert mgr.remove_model("user:mine") and "user:mine" not in mgr.model_names()
        with pytest.raises(UnknownModelError):
            mgr.add_local_model("user:other", "no-such-role", folder)
    finally:
        mgr.close()
