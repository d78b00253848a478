"""Tried and not kept: a linear adapter on the question's vector, learned from customers' words.

    flock /tmp/springboard-heavy.lock .venv/bin/python -m bench.cs_query_adapter [--l2 0.1]

The ranking is what holds customer service back on companies' own FAQs (bench/RESULTS.md):
customers word a question unlike the FAQ does. The six tuning companies and the demo hold
about 400 customers' questions labelled with their entry, which no per-KB fit has. This
learns, from them, a linear map of the question's vector, ``q + q @ A`` (then unit length),
one per encoder (MiniLM for English questions against an English knowledge base; e5 for
everything else), with the stored phrasings left as they are: the softmax over entries of
the entry's best cosine (temperature 0.05), plus ``l2 * |A|^2`` keeping the map near the
identity.

Every figure here is left out: for each labelled set, the adapters are trained on the
other six, then that set is imported and read through the product's own pipeline
(``bench.cs_shared_calibration.labelled``) with its adapters in the question's path
(``Embedders.view``, patched in this process only), and the shared map is fitted on the
other six sets' left-out features and applied to it. The held-out quayside set is never
loaded.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from apps.customer_service import CustomerServiceBot, embedders
from bench.cs_shared_calibration import (
    SETS,
    Labelled,
    _rows,
    labelled,
    leave_one_out,
    threshold_ceiling,
)

DIM = embedders.DIM
TEMPERATURE = 0.05
SMOOTH_MAX = 0.02  # the entry's best cosine, as a soft maximum so every phrasing learns
STEPS = 300


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _groups(name: str, tmp: Path) -> list[dict]:
    """One labelled set's answerable questions as training groups, one per encoder: the
    question's vector in that encoder, its entry, and every stored phrasing's vector."""
    faq, company, rows = _rows(name)
    bot = CustomerServiceBot(data_dir=tmp / f"groups-{name}")
    bot.import_faq(faq, replace=True, company=company)
    kb = bot.retriever.kb
    keys, owner = [], []
    for num in kb.entries:
        vectors = kb.entry_vectors(num)
        keys.append(vectors)
        owner += [num] * len(vectors)
    keys_all, owner_all = np.vstack(keys), np.array(owner)
    num_of = {e.id: e.num for e in kb.entries.values()}
    asked = [r for r in rows if r["kind"] != "off_topic" and r["expected_id"]]
    vectors = bot._embed([r["question"] for r in asked])
    cross = np.array([bot.retriever.is_cross_lingual(r["question"]) for r in asked])
    english_kb = keys_all.shape[1] == 2 * DIM
    groups = []
    for is_cross in (False, True):
        mask = cross == is_cross
        if not mask.any():
            continue
        if english_kb and not is_cross:
            encoder, part = "minilm", slice(0, DIM)
        else:
            encoder, part = "e5", slice(DIM, 2 * DIM) if english_kb else slice(0, DIM)
        groups.append(
            {
                "encoder": encoder,
                "cross": is_cross,
                "q": _unit(vectors[mask][:, part]),
                "y": np.array([num_of[r["expected_id"]] for r, m in zip(asked, mask, strict=True) if m]),
                "keys": keys_all[:, part],
                "owner": owner_all,
            }
        )
    return groups


def _entry_scores(q: torch.Tensor, keys: np.ndarray, owner: np.ndarray, soft: bool) -> tuple[np.ndarray, torch.Tensor]:
    cosines = q @ torch.as_tensor(keys).T
    nums = np.unique(owner)
    columns = [cosines[:, torch.as_tensor(owner == n)] for n in nums]
    if soft:
        return nums, torch.stack([torch.logsumexp(c / SMOOTH_MAX, 1) * SMOOTH_MAX for c in columns], 1)
    return nums, torch.stack([c.max(1).values for c in columns], 1)


def train(groups: list[dict], l2: float) -> np.ndarray:
    """The adapter ``A`` for one encoder, each group (knowledge base) counting equally."""
    torch.manual_seed(0)
    adapter = torch.zeros(DIM, DIM, requires_grad=True)
    optimiser = torch.optim.Adam([adapter], lr=1e-2)
    for _ in range(STEPS):
        loss = l2 * (adapter**2).sum()
        for g in groups:
            q = torch.as_tensor(g["q"]).float()
            q = q + q @ adapter
            nums, scores = _entry_scores(q / q.norm(dim=1, keepdim=True), g["keys"], g["owner"], soft=True)
            target = torch.as_tensor(np.searchsorted(nums, g["y"]))
            loss = loss + torch.nn.functional.cross_entropy(scores / TEMPERATURE, target) / len(groups)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return adapter.detach().numpy()


_ACTIVE: dict[str, np.ndarray] = {}


@contextmanager
def adapted(adapters: dict[str, np.ndarray]) -> Iterator[None]:
    """Every question's vector passes through ``adapters`` (by encoder) while inside."""
    original = embedders.Embedders.view

    def view(self: embedders.Embedders, vector: np.ndarray, cross_lingual: bool = False) -> np.ndarray:
        vector = np.asarray(vector, dtype=np.float32)
        e5 = _ACTIVE["e5"]
        if len(self.parts) == 1:
            return _unit(vector + vector @ e5).astype(np.float32)
        first, second = vector[..., :DIM], vector[..., DIM:]
        if cross_lingual:
            return np.concatenate([0 * first, _unit(second + second @ e5)], axis=-1).astype(np.float32)
        minilm = _ACTIVE["minilm"]
        return np.concatenate([_unit(first + first @ minilm), 0 * second], axis=-1).astype(np.float32)

    _ACTIVE.update(adapters)
    embedders.Embedders.view = view
    try:
        yield
    finally:
        embedders.Embedders.view = original
        _ACTIVE.clear()


def top1(groups: list[dict], adapters: dict[str, np.ndarray] | None) -> str:
    """Dense top-1, questions in the knowledge base's language / in the other one."""
    out = {}
    for g in groups:
        q = torch.as_tensor(g["q"]).float()
        if adapters is not None:
            q = q + q @ torch.as_tensor(adapters[g["encoder"]])
        nums, scores = _entry_scores(q / q.norm(dim=1, keepdim=True), g["keys"], g["owner"], soft=False)
        out["cross" if g["cross"] else "same"] = float((nums[scores.argmax(1).numpy()] == g["y"]).mean())
    return " / ".join(f"{out[k]:.1%}" if k in out else "-" for k in ("same", "cross"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--l2", type=float, default=0.1, help="pull of the adapter towards the identity")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        groups = {name: _groups(name, Path(tmp)) for name in SETS}
        adapters = {
            held: {
                encoder: train([g for n, gs in groups.items() if n != held for g in gs if g["encoder"] == encoder], args.l2)
                for encoder in ("minilm", "e5")
            }
            for held in SETS
        }
        print("| set | dense top-1, as shipped (same / cross) | with the adapter left out |")
        print("|---|---|---|")
        for name in SETS:
            before, after = top1(groups[name], None), top1(groups[name], adapters[name])
            print(f"| {name} | {before} | {after} |")
        plain: dict[str, Labelled] = {name: labelled(name, Path(tmp) / "plain") for name in SETS}
        with_adapter: dict[str, Labelled] = {}
        for name in SETS:
            with adapted(adapters[name]):
                with_adapter[name] = labelled(name, Path(tmp) / "adapted")
    for title, data in (("as shipped", plain), (f"with the adapter (l2 {args.l2})", with_adapter)):
        print(f"\n{title}, each set left out:")
        print("\n".join(leave_one_out(data)))
        print("\n".join(threshold_ceiling(data)))


if __name__ == "__main__":
    main()
