"""Image recognition benchmarks (run heavy parts under ``flock /tmp/springboard-heavy.lock``).

    python -m bench.vision throughput  # images/s, batched vs one at a time, classify + detect
    python -m bench.vision fmnist --epochs 8   # Fashion-MNIST: small CNN from scratch, test accuracy
    python -m bench.vision sanity      # ImageNet labels on skimage photos, motorbike detection
    python -m bench.vision explain     # Grad-CAM (explain=True) vs plain classify, same run

Each prints a JSON summary and writes it to data/bench/vision_<name>.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np
import torch

from core.settings import PROJECT_ROOT

OUT_DIR = PROJECT_ROOT / "data" / "bench"


def _machine() -> dict:
    return {
        "cpu_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "python": platform.python_version(),
        "torch": torch.__version__,
    }


def bench_fmnist(epochs: int, seed: int) -> dict:
    """Train the small CNN on all 60,000 training images; accuracy on the 10,000 test images."""
    from apps.vision.datasets import FASHION_MNIST_CLASSES, load_fashion_mnist
    from apps.vision.evaluation import held_out_metrics
    from shared_models.image_training import cnn_input, predict_cnn, train_small_cnn

    train, test = load_fashion_mnist("train"), load_fashion_mnist("test")
    started = time.perf_counter()

    def report(fraction: float, message: str) -> None:
        print(f"[{time.perf_counter() - started:7.1f} s] {fraction:5.1%} {message}", flush=True)

    model, curve = train_small_cnn(
        train.images, train.labels, test.images, test.labels, 10, epochs, report, seed=seed
    )
    seconds = time.perf_counter() - started
    pred = predict_cnn(model, cnn_input(test.images))
    metrics = held_out_metrics(test.labels, pred, list(FASHION_MNIST_CLASSES))
    save_dir = PROJECT_ROOT / "data" / "bench" / "fmnist-cnn"
    save_dir.mkdir(parents=True, exist_ok=True)
    from safetensors.torch import save_model

    save_model(model, str(save_dir / "model.safetensors"))
    return {
        "model": "SmallCNN (3 conv-BN-ReLU-pool stages 32/64/128, MLP head), from scratch",
        "epochs": epochs,
        "train_images": int(len(train.labels)),
        "test_images": int(len(test.labels)),
        "train_seconds": round(seconds, 1),
        "test_accuracy": round(metrics.accuracy, 4),
        "test_macro_f1": round(metrics.macro_f1, 4),
        "curve": curve.to_dict(),
        "per_class_recall": metrics.per_class_recall(),
        "machine": _machine(),
    }


def _photos() -> list:
    from PIL import Image
    from skimage import data

    arrays = [data.chelsea(), data.coffee(), data.rocket(), data.astronaut(),
              data.stereo_motorcycle()[0]]
    return [Image.fromarray(a).convert("RGB") for a in arrays]


def _time(fn, repeats: int) -> float:
    """Median wall time of ``fn()`` over ``repeats`` runs (after one warm-up run)."""
    fn()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return float(np.median(times))


def bench_throughput(n_images: int, repeats: int = 3) -> dict:
    """Images/s through the shared core: one call with all images vs one call per image."""
    from core import get_manager
    from shared_models.types.vision import ClassifyRequest, DetectRequest

    manager = get_manager()
    photos = _photos()
    images = [photos[i % len(photos)] for i in range(n_images)]
    result = {"images": n_images, "repeats": repeats, "machine": _machine(),
              "device": manager.policy.describe()}
    for role, make in (("classification", lambda im: ClassifyRequest(im, top_k=5)),
                       ("detection", lambda im: DetectRequest(im, threshold=0.25))):
        handle = manager.handle(role)
        requests = [make(im) for im in images]
        single = _time(lambda h=handle, r=requests: [h.call([x]) for x in r], repeats)
        batched = _time(lambda h=handle, r=requests: h.call(list(r)), repeats)
        result[role] = {
            "model": handle.name,
            "one_at_a_time_images_per_s": round(n_images / single, 1),
            "batched_images_per_s": round(n_images / batched, 1),
            "speedup": round(single / batched, 2),
        }
    return result


def bench_explain(n_images: int, repeats: int = 5) -> dict:
    """Seconds per image of ``ClassifyRequest(explain=True)`` against a plain one, same images.

    One image per call (what the page does), then all images in one call (batched).
    """
    from core import get_manager
    from shared_models.types.vision import ClassifyRequest

    manager = get_manager()
    photos = _photos()
    images = [np.asarray(photos[i % len(photos)]) for i in range(n_images)]
    handle = manager.handle("classification")
    result = {"model": handle.name, "images": n_images, "repeats": repeats, "machine": _machine(),
              "device": manager.policy.describe()}
    for explain in (False, True):
        requests = [ClassifyRequest(im, top_k=5, explain=explain) for im in images]
        single = _time(lambda r=requests: [handle.call([x]) for x in r], repeats)
        batched = _time(lambda r=requests: handle.call(list(r)), repeats)
        result["explain" if explain else "plain"] = {
            "one_at_a_time_ms_per_image": round(1000 * single / n_images, 1),
            "batched_ms_per_image": round(1000 * batched / n_images, 1),
        }
    for mode in ("one_at_a_time_ms_per_image", "batched_ms_per_image"):
        result[f"ratio_{mode.removesuffix('_ms_per_image')}"] = round(
            result["explain"][mode] / result["plain"][mode], 2
        )
    return result


def bench_sanity() -> dict:
    """ImageNet labels on scikit-image's cat, coffee and rocket; a motorbike in motorcycle_left."""
    from apps.vision import ImageRecognizer

    rec = ImageRecognizer()
    chelsea, coffee, rocket, _, motorcycle = _photos()
    out = {}
    for name, image in (("chelsea", chelsea), ("coffee", coffee), ("rocket", rocket)):
        out[name] = [(p.label, round(p.score, 3)) for p in rec.classify(image, top_k=3)]
    out["motorcycle_left"] = [
        (d.label, round(d.score, 3), [round(v) for v in d.box]) for d in rec.detect(motorcycle)
    ]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("what", choices=["throughput", "fmnist", "sanity", "explain"])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--images", type=int, default=32, help="images per throughput run")
    args = parser.parse_args()
    np.random.seed(args.seed)
    if args.what == "fmnist":
        result = bench_fmnist(args.epochs, args.seed)
    elif args.what == "throughput":
        result = bench_throughput(args.images)
    elif args.what == "explain":
        result = bench_explain(args.images)
    else:
        result = bench_sanity()
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    (OUT_DIR / f"vision_{args.what}.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
