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


def test_serving_drives_the_suites_decoder_against_hf_generate(tmp_path, settings):
    """The suite's TextGenerator and DecodeScheduler (continuous batching) serve the same
    staggered, mixed-length requests as HF generate, on a random-weight SmolLM2."""
    from shared_models.gguf_cache import cached_model_dir
    from shared_models.text_generation import SMOLLM2_GGUF, TINY

    tokenizers = cached_model_dir(TINY, SMOLLM2_GGUF, settings.cache_dir).parent
    script = _load_script()
    results = script.main(["--device", "cpu", "--quick", "--only", "serving",
                           "--tokenizers", str(tokenizers), "--out", str(tmp_path / "gpu.json")])  # fmt: skip
    rows = {(r["batch"], r["mode"]): r for r in results["rows"]}
    modes = ("HF generate, static batches", "suite, continuous batching")
    assert set(rows) == {(n, m) for n in (1, 4) for m in modes}
    for n in (1, 4):
        hf, suite = rows[n, modes[0]], rows[n, modes[1]]
        # End-of-turn rows are zeroed, so every request runs to the length it asked for, in both.
        asked = sum(new for _, _, new in script.serving_plan(n, 16, 8))
        assert hf["tokens"] == suite["tokens"] == asked
        assert suite["throughput"] > 0 and 0 < suite["ttft_p50_ms"] <= suite["ttft_p95_ms"]
        assert suite["throughput_ratio"] > 0 and suite["ttft_p95_ratio"] > 0
    plan = script.serving_plan(32, 128, 128)
    assert len({new for _, _, new in plan}) == 3 and len({p for _, p, _ in plan}) == 3  # mixed
    assert all(a < b for (a, _, _), (b, _, _) in zip(plan, plan[1:], strict=False))  # staggered


def _modules_after(code: str) -> set[str]:
    """Top-level modules a fresh interpreter holds after running ``code``."""
    import subprocess
    import sys

    code += "\nimport sys; print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd="/", env={"PATH": "/usr/bin:/bin"})  # fmt: skip
    return set(out.stdout.split())


def test_the_decoder_imports_need_only_torch_and_transformers():
    """What the GPU machine has: torch, transformers, the stdlib. The decoder's modules may
    add nothing else to what torch and transformers themselves import there."""
    import sys

    hf = "import torch\nfrom transformers import AutoModelForCausalLM, AutoTokenizer, LogitsProcessor\n"
    baseline = _modules_after(hf)
    with_decoder = _modules_after(
        hf + "import importlib.util\n"
        f"spec = importlib.util.spec_from_file_location('g', {str(PROJECT_ROOT / 'bench' / 'gpu.py')!r})\n"
        "g = importlib.util.module_from_spec(spec); spec.loader.exec_module(g)\n"
        "dec = g.suite_decoder()\n"
        "assert dec.decoding.TextGenerator and dec.scheduler.DecodeScheduler and dec.streaming.StreamChannel\n"
    )
    added = with_decoder - baseline - set(sys.stdlib_module_names) - {"g"}
    assert added == {"core", "shared_models"}, f"the decoder pulls in {sorted(added)}"
    assert not {"pydantic", "pydantic_settings", "psutil", "gradio", "faiss", "peft"} & with_decoder
