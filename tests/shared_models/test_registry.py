"""Every registered model: it loads offline from its package, its memory estimate is honest
(the budget relies on it), and on a GPU it sits on CUDA in half precision."""

from __future__ import annotations

import pytest
import torch

from core.registry import load_model_modules
from core.settings import ModelChoices

SPECS = load_model_modules().specs()


def test_every_role_has_its_default_registered():
    names = {s.name for s in SPECS}
    for role, default in ModelChoices().model_dump().items():
        assert default in names, f"default {role} model {default} is not registered"


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_model_loads_and_its_memory_estimate_is_honest(manager, spec):
    with manager.use(spec.name) as runner:
        if getattr(runner, "weights_per_job", False):
            # A trainer that loads its base for each job (the LoRA trainer): at rest it
            # holds no weights, and says so to the memory budget.
            assert runner.memory_bytes() == 0 and spec.approx_mb <= 1, spec.name
            assert not any(isinstance(m, torch.nn.Module) for m in vars(runner).values())
            return
        actual_mb = runner.memory_bytes() / 2**20
        tensors = [
            t
            for module in vars(runner).values()
            if isinstance(module, torch.nn.Module)
            for t in module.parameters()
        ]
    assert tensors, f"{spec.name} exposes no torch module"
    # Half precision on GPU halves the size, so allow a wide band; the point is the order of magnitude.
    assert spec.approx_mb / 4 <= actual_mb <= spec.approx_mb * 1.5, (
        f"{spec.name}: approx_mb={spec.approx_mb} but {actual_mb:.0f} MB loaded"
    )
    if manager.policy.is_cuda:
        assert all(t.device.type == "cuda" for t in tensors)
        floats = [t for t in tensors if t.is_floating_point()]
        assert all(t.dtype in (torch.float16, torch.bfloat16) for t in floats), spec.name
    else:
        assert all(t.device.type == "cpu" for t in tensors)
