"""What bfloat16 buys on this CPU, and what it costs: language model and Whisper encoder.

    flock /tmp/springboard-heavy.lock .venv/bin/python -m bench.precision [--json out.json]

Text generation (Qwen2.5-Coder-0.5B, the default model, from the converted-weight cache):
float32 against bfloat16 in one run, each on the same random prompts, for
* prefill of a 40-token prompt and one decode step at 1, 8 and 32 rows (new tokens/s);
* perplexity on four texts (the README, a source file, an English and a Chinese FAQ);
* greedy replies to four prompts (whether they change).

Whisper-base's encoder on one 30 s window batch of 4: float32, bfloat16 weights and
activations, and float32 weights under bfloat16 autocast (the default on CPUs with
bfloat16 kernels): seconds, and the relative error of its output against float32.

Nothing is asserted; ``settings.decoding.precision`` and ``quantize_whisper`` say which
choice the suite makes (see their docstrings). Speed ratios need a CPU with AMX or
AVX512-BF16; elsewhere bfloat16 is emulated and slower.
"""

from __future__ import annotations

import argparse
import copy
import csv
import json
import math
import time
from pathlib import Path

import torch

from core.manager import ModelManager
from core.settings import PROJECT_ROOT, Settings
from shared_models import text_generation as tg
from shared_models.gguf_cache import cached_model_dir
from shared_models.quantization import native_bf16

PROMPTS = [
    "Write a tagline for a bike repair shop.",
    "Name three benefits of a standing desk.",
    "我们的咖啡店怎么办会员卡？",
    "Summarise: our app saves teams an hour a day by automating reports.",
]


def _texts() -> dict[str, str]:
    def answers(company: str) -> str:
        with (PROJECT_ROOT / "bench" / "own_data" / company / "faq.csv").open(encoding="utf-8") as fh:
            return " ".join(row["answer"] for row in csv.DictReader(fh))

    return {
        "README": (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")[:6000],
        "code": (PROJECT_ROOT / "apps" / "customer_service" / "retrieval.py").read_text(encoding="utf-8")[:6000],
        "FAQ (en)": answers("fernleaf"),
        "FAQ (zh)": answers("xiaoman"),
    }


def _speed(model, rows: int, prompt_tokens: int = 40, steps: int = 10) -> dict[str, float]:
    ids = torch.randint(100, 5000, (rows, prompt_tokens), generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        start = time.perf_counter()
        out = model(ids, use_cache=True)
        prefill = time.perf_counter() - start
        cache, token = out.past_key_values, out.logits[:, -1:].argmax(-1)
        for _ in range(2):  # warm-up steps
            out = model(token, past_key_values=cache, use_cache=True)
            cache = out.past_key_values
        start = time.perf_counter()
        for _ in range(steps):
            out = model(token, past_key_values=cache, use_cache=True)
            cache = out.past_key_values
        step = (time.perf_counter() - start) / steps
    return {"prefill_s": round(prefill, 3), "step_ms": round(step * 1000, 1), "tokens_per_s": round(rows / step, 1)}


def generation(folder: Path) -> dict:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    out: dict = {}
    for dtype in (torch.float32, torch.bfloat16):
        name = str(dtype).removeprefix("torch.")
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype).eval()
        row: dict = {"speed": {rows: _speed(model, rows) for rows in (1, 8, 32)}, "perplexity": {}, "replies": []}
        for label, text in _texts().items():
            ids = tokenizer(text, return_tensors="pt").input_ids[:, :1024]
            with torch.inference_mode():
                row["perplexity"][label] = round(math.exp(model(ids, labels=ids).loss.float().item()), 3)
        for prompt in PROMPTS:
            chat = tokenizer.apply_chat_template(
                [{"role": "user", "content": prompt}], add_generation_prompt=True, return_tensors="pt", return_dict=True
            )
            with torch.inference_mode():
                ids = model.generate(**chat, max_new_tokens=40, do_sample=False)
            row["replies"].append(tokenizer.decode(ids[0, chat["input_ids"].shape[1] :], skip_special_tokens=True))
        out[name] = row
        del model
    out["replies_changed"] = sum(a != b for a, b in zip(out["float32"]["replies"], out["bfloat16"]["replies"], strict=True))
    return out


def encoder(manager: ModelManager) -> dict:
    """Whisper-base's encoder three ways on a batch of four 30 s windows of noise-free tones."""
    with manager.use("whisper-base") as runner:
        float_encoder = copy.deepcopy(runner.model.model.encoder).float()
    t = torch.arange(16_000 * 30) / 16_000
    audio = (0.1 * torch.sin(2 * math.pi * 220 * t) * torch.sin(2 * math.pi * 0.5 * t)).numpy()
    with manager.use("whisper-base") as runner:
        features = runner.feature_extractor([audio] * 4, sampling_rate=16_000, return_tensors="pt").input_features

    def timed(module, x, autocast: bool = False) -> tuple[float, torch.Tensor]:
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            module(x)  # warm-up
            start = time.perf_counter()
            y = module(x).last_hidden_state.float()
        return time.perf_counter() - start, y

    base_s, reference = timed(float_encoder, features)
    bf16 = copy.deepcopy(float_encoder).to(torch.bfloat16)
    bf16_s, bf16_y = timed(bf16, features.bfloat16())
    auto_s, auto_y = timed(float_encoder, features, autocast=True)

    def error(y: torch.Tensor) -> float:
        return round(((y - reference).norm() / reference.norm()).item(), 4)

    return {
        "float32_s": round(base_s, 3),
        "bfloat16_s": round(bf16_s, 3), "bfloat16_speedup": round(base_s / bf16_s, 2), "bfloat16_error": error(bf16_y),
        "autocast_s": round(auto_s, 3), "autocast_speedup": round(base_s / auto_s, 2), "autocast_error": error(auto_y),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--skip", default="", help="comma list of: generation,encoder")
    args = parser.parse_args()
    manager = ModelManager(Settings())
    cache = manager.settings.model_cache_dir
    result: dict = {"native_bf16": native_bf16("cpu"), "threads": torch.get_num_threads()}
    if "generation" not in args.skip:
        result["generation"] = generation(cached_model_dir(tg.DEFAULT, tg.QWEN_GGUF, cache))
    if "encoder" not in args.skip:
        result["whisper_base_encoder_batch4"] = encoder(manager)
    manager.close()
    text = json.dumps(result, ensure_ascii=False, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text)


if __name__ == "__main__":
    main()
