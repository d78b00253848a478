"""bench/gpu.py is run once on a borrowed GPU machine, so it must work before one is lent:
its CPU check builds the real architectures from the shipped configs and times them."""

from __future__ import annotations

import importlib.util
import json

from core.settings import PROJECT_ROOT


def _load_script():
    spec = importlib.util.spec_from_file_location("bench_gpu", PROJECT_ROOT / "bench" / "gpu.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_gpu_script_runs_its_cpu_check(tmp_path):
    out = tmp_path / "gpu.json"
    results = _load_script().main(
        ["--device", "cpu", "--quick", "--only", "embedding,detection", "--out", str(out)]
    )
    assert json.loads(out.read_text()) == results
    rows = {(r["model"], r["batch"]): r for r in results["rows"]}
    assert set(rows) == {
        (m, b) for m in ("minilm-l6", "multilingual-e5-small", "yolov3-tiny") for b in (1, 2)
    }
    assert all(r["throughput"] > 0 and r["latency_ms"] > 0 for r in results["rows"])
    # The real architectures: MiniLM has 6 layers of 384, e5-small 12 with a 250k vocabulary.
    config = _load_script()._config("multilingual-e5-small")
    assert (config.num_hidden_layers, config.hidden_size, config.vocab_size) == (12, 384, 250037)
