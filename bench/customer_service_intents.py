"""BANKING77 intent accuracy: frozen-embedding head vs fine-tuned MiniLM (CPU).

    flock /tmp/springboard-heavy.lock .venv/bin/python -m bench.customer_service_intents \
        --modes head,finetune --epochs 4 --save data/customer_service/intents

Prints accuracy, macro-F1 and training time on the test split; writes a JSON
summary next to the saved model. With --save, the fine-tuned model becomes the
app's intent model (loaded by CustomerServiceBot at start): its head, manifest and
encoder folder, which the core's embedding role serves.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from apps.customer_service.datasets import banking77
from apps.customer_service.intents import IntentModel, classification_metrics
from core import get_manager


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--modes", default="head,finetune")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--save", type=Path, default=None)
    parser.add_argument("--max-minutes", type=float, default=None, help="fine-tuning time budget")
    parser.add_argument(
        "--out", type=Path, default=Path("data/customer_service/bench_intents.json")
    )
    args = parser.parse_args()
    train, test = banking77("train"), banking77("test")
    texts, labels = [t for t, _ in train], [c for _, c in train]
    test_texts, test_labels = [t for t, _ in test], [c for _, c in test]
    manager = get_manager()
    embed_handle = manager.handle("embedding")

    def embed(batch: list[str]) -> np.ndarray:
        return np.stack(embed_handle.call(batch))

    results = {}
    last = [0.0]

    def progress(frac: float, msg: str) -> None:
        if time.time() - last[0] > 30:
            last[0] = time.time()
            print(f"  {frac:5.1%} {msg}", flush=True)

    scratch = Path(tempfile.mkdtemp(prefix="bench-intents-"))
    for mode in args.modes.split(","):
        model, report = IntentModel.train(
            texts,
            labels,
            mode=mode,
            embed=embed,
            epochs=args.epochs if mode == "finetune" else None,
            progress=progress,
            max_seconds=args.max_minutes * 60 if args.max_minutes else None,
            manager=manager,
            # Saved runs train straight into the app's folder (no copy of the encoder).
            workdir=args.save if args.save and mode == "finetune" else scratch,
        )
        start = time.perf_counter()
        pred = [label for label, _ in model.predict(test_texts, embed=embed)]
        infer_s = time.perf_counter() - start
        m = classification_metrics(test_labels, pred, model.labels)
        results[mode] = {
            "accuracy": m["accuracy"],
            "macro_f1": m["macro_f1"],
            "train_seconds": report.seconds,
            "epochs": report.epochs if mode == "finetune" else None,
            "max_minutes": args.max_minutes if mode == "finetune" else None,
            "test_n": m["n"],
            "test_inference_seconds": infer_s,
        }
        print(mode, json.dumps(results[mode]), flush=True)
        if args.save and mode == "finetune":
            model.save(args.save)
        elif model.encoder_source:  # an unsaved fine-tuned encoder: stop serving it
            manager.remove_model(model.encoder_source)
    shutil.rmtree(scratch, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
