"""Recommendation benchmark: MovieLens-100k under RecBole's protocol, side by side with `implicit`.

Every model (ours and implicit's ALS and BPR) is trained on the same random
80/10/10 per-user split and scored by the same full-ranking code (training and
validation items masked), in one process, so the quality figures and the
training-time ratios are comparable. EASE's lambda is chosen on the validation
split. A second table repeats the comparison on the temporal leave-last-out split.
Run (heavy: take the shared lock):

    flock /tmp/springboard-heavy.lock .venv/bin/python -m bench.recommendation [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# implicit asks for single-threaded BLAS (it parallelises itself); torch keeps its own threads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
warnings.filterwarnings("ignore", message=".*[Ss]parse.*")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from apps.recommendation import Recommender  # noqa: E402
from apps.recommendation.data import interaction_matrix, load_movielens_100k  # noqa: E402
from apps.recommendation.evaluation import ranking_metrics  # noqa: E402
from apps.recommendation.experiment import split, tune_bpr, tune_ease  # noqa: E402
from core.manager import ModelManager  # noqa: E402
from core.settings import Settings  # noqa: E402

K = 10
OURS = ("popular", "itemknn", "ease", "bpr", "hybrid")


def implicit_models(threads: int) -> dict:
    """implicit's ALS and BPR with 64 factors (its defaults otherwise, tuned alpha for ALS)."""
    from implicit.cpu.als import AlternatingLeastSquares
    from implicit.cpu.bpr import BayesianPersonalizedRanking

    return {
        "implicit-als": AlternatingLeastSquares(factors=64, regularization=0.05, alpha=2.0, iterations=15,
                                                num_threads=threads, random_state=0),
        "implicit-bpr": BayesianPersonalizedRanking(factors=64, learning_rate=0.01, regularization=0.01,
                                                    iterations=100, num_threads=threads, random_state=0),
    }


def run_protocol(protocol: str, device: str, manager: ModelManager) -> list[dict]:
    inter, items = load_movielens_100k()
    train, valid, test = split(inter, protocol)
    rows = []
    for name in OURS:
        params = {}
        if name == "ease":
            t0 = time.perf_counter()
            params["l2"], grid = tune_ease(train, valid, items, K, device=device)
            print(f"  EASE lambda on validation NDCG@{K}: {grid} -> {params['l2']} "
                  f"({time.perf_counter() - t0:.1f} s)", flush=True)
        if name == "bpr":
            t0 = time.perf_counter()
            params["reg"], grid = tune_bpr(train, valid, items, K, device=device)
            print(f"  BPR reg on validation NDCG@{K}: {grid} -> {params['reg']} "
                  f"({time.perf_counter() - t0:.1f} s)", flush=True)
        rec = Recommender(name, device=device, manager=manager, **params).fit(train, items)
        m = rec.evaluate(test, K, exclude=valid)
        rows.append({"model": name, "train_s": rec.train_seconds, **m})
        print(f"  {name:14s} ndcg {m['ndcg@10']:.4f} recall {m['recall@10']:.4f} train {rec.train_seconds:.2f}s", flush=True)
    # implicit on exactly the same matrices and the same metric code.
    rec = Recommender("popular", device="cpu").fit(train)
    users, items_map = rec.users, rec.items
    X = interaction_matrix(train, users, items_map)
    mask = (X + interaction_matrix(valid, users, items_map)).tocsr()
    truth = interaction_matrix(test, users, items_map)
    truth = (truth - truth.multiply(mask > 0)).tocsr()
    truth.eliminate_zeros()
    for name, model in implicit_models(torch.get_num_threads()).items():
        t0 = time.perf_counter()
        model.fit(X, show_progress=False)
        seconds = time.perf_counter() - t0
        U = torch.from_numpy(np.asarray(model.user_factors))
        V = torch.from_numpy(np.asarray(model.item_factors))

        def score(rows_, _h, U=U, V=V):
            return U[torch.from_numpy(rows_)] @ V.T

        m = ranking_metrics(score, X, mask, truth, k=K)
        rows.append({"model": name, "train_s": seconds, **m})
        print(f"  {name:14s} ndcg {m['ndcg@10']:.4f} recall {m['recall@10']:.4f} train {seconds:.2f}s", flush=True)
    return rows


def markdown(rows: list[dict], title: str) -> str:
    lines = [f"**{title}**", "", "| model | NDCG@10 | Recall@10 | MRR@10 | Hit@10 | coverage@10 | train s |",
             "|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: -r["ndcg@10"]):
        lines.append(f"| {r['model']} | {r['ndcg@10']:.4f} | {r['recall@10']:.4f} | {r['mrr@10']:.4f} | "
                     f"{r['hit@10']:.4f} | {r['coverage@10']:.4f} | {r['train_s']:.2f} |")
    best = max((r for r in rows if not r["model"].startswith("implicit")), key=lambda r: r["ndcg@10"])
    for other in ("implicit-als", "implicit-bpr"):
        o = next(r for r in rows if r["model"] == other)
        lines.append("")
        lines.append(f"- best ours ({best['model']}) vs {other}: NDCG@10 x{best['ndcg@10'] / o['ndcg@10']:.2f}, "
                     f"training time x{best['train_s'] / o['train_s']:.2f} (ours / theirs)")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--protocols", default="random,temporal")
    args = parser.parse_args()
    manager = ModelManager(Settings(device=args.device))
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, torch threads "
          f"{torch.get_num_threads()}, device {args.device}")
    titles = {"random": "RecBole protocol: random 80/10/10 per user, full ranking",
              "temporal": "Temporal leave-last-out, full ranking"}
    out = []
    for protocol in args.protocols.split(","):
        print(f"[{protocol}]", flush=True)
        out.append(markdown(run_protocol(protocol, args.device, manager), titles[protocol]))
    manager.close()
    print()
    print("\n\n".join(out))


if __name__ == "__main__":
    main()
