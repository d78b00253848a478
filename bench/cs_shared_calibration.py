"""Fit the customer-service confidence weights that every knowledge base shares.

    flock /tmp/springboard-heavy.lock .venv/bin/python -m bench.cs_shared_calibration [--write]

Seven knowledge bases with customers' labelled questions: bench/own_data's fernleaf,
ledgerly and pedalway (English), xiaoman, qinghe and yuedong (Chinese), and the English
demo (``demo/paraphrases.csv`` and ``demo/out_of_scope.txt``). The held-out quayside set
is never loaded. Each FAQ is
imported into a fresh bot as the page does; that measures the knowledge base's scale
(``calibration.calibrate``), and every question's top-candidate features are read on
that scale (``Calibrator.scaled``), exactly as the bot reads them when it answers.

* the same-language map: questions in the knowledge base's language (right top entry
  = 1; a wrong top entry or an off-topic question = 0);
* the cross-language map: questions in the other language, with the bundled general
  off-topic questions of that language as further negatives (the demo has no
  cross-language questions).

Each knowledge base counts equally, whatever its number of questions. The fitted
bias is then lowered by log(``ANSWER_ODDS``) (``CROSS_ANSWER_ODDS`` for the
cross-language map): the bot answers at P >= 0.5 of the shifted map, i.e. P >= 0.6 of
the fitted one at odds 1.5. Both odds were chosen leaving one knowledge base out at a
time (the table printed here): the most right answers with at most about 5% wrong on
average and no knowledge base far above it.

``--write`` stores the weights in ``apps/customer_service/calibration_shared.json``.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from apps.customer_service import CustomerServiceBot
from apps.customer_service.calibration import SHARED_FILE, fit_logistic, off_topic_questions
from apps.customer_service.datasets import DEMO_DIR
from bench.own_data import COMPANIES, DATA, HELD_OUT, questions

ANSWER_ODDS = 1.5  # answer when the fitted P(right) >= 0.6
CROSS_ANSWER_ODDS = 3.0  # P >= 0.75: a wrong cross-language answer is a wrong language too
SETS = ("fernleaf", "xiaoman", "ledgerly", "pedalway", "qinghe", "yuedong", "demo")


@dataclass
class Labelled:
    """One knowledge base's questions as scaled features with labels."""

    same: np.ndarray  # questions in the KB's language
    same_y: np.ndarray
    same_kind: list[str]  # "paraphrase" or "off_topic"
    cross: np.ndarray  # questions in the other language (and general off-topic ones)
    cross_y: np.ndarray
    cross_kind: list[str]  # "cross" or "general"


def _rows(name: str) -> tuple[Path, str, list[dict[str, str]]]:
    if name == "demo":
        with (DEMO_DIR / "paraphrases.csv").open(encoding="utf-8") as fh:
            rows = [{**r, "kind": "paraphrase"} for r in csv.DictReader(fh)]
        lines = (DEMO_DIR / "out_of_scope.txt").read_text(encoding="utf-8").splitlines()
        rows += [
            {"question": q.strip(), "expected_id": "", "kind": "off_topic"}
            for q in lines
            if q.strip() and not q.startswith("#")
        ]
        return DEMO_DIR / "faq.csv", "Kestrel Money", rows
    return DATA / name / "faq.csv", COMPANIES[name], questions(name)


def labelled(name: str, tmp: Path) -> Labelled:
    """Import ``name``'s FAQ into a fresh bot and read its questions on its scale."""
    assert name != HELD_OUT, "the held-out set is never fitted on"
    faq, company, rows = _rows(name)
    bot = CustomerServiceBot(data_dir=tmp / name)
    bot.import_faq(faq, replace=True, company=company)
    same: list[list[float]] = []
    same_y, same_kind = [], []
    cross: list[list[float]] = []
    cross_y, cross_kind = [], []
    for row in rows:
        r = bot.search(row["question"], k=5)
        right = int(row["kind"] != "off_topic" and bool(r.candidates) and r.top.entry.id == row["expected_id"])
        if r.cross_lingual:
            cross.append(bot.retriever.cross_calibrator.scaled(r.features))
            cross_y.append(right)
            cross_kind.append(row["kind"])
        else:
            same.append(bot.retriever.calibrator.scaled(r.features))
            same_y.append(right)
            same_kind.append(row["kind"])
    for text in off_topic_questions():
        r = bot.search(text, k=5)
        if r.cross_lingual:  # in the other language: the cross-language map judges it
            cross.append(bot.retriever.cross_calibrator.scaled(r.features))
            cross_y.append(0)
            cross_kind.append("general")
    return Labelled(
        np.array(same), np.array(same_y), same_kind, np.array(cross), np.array(cross_y), cross_kind
    )


def fit(sets: list[Labelled], cross: bool, odds: float = ANSWER_ODDS) -> tuple[list[float], float]:
    """Weights and shifted bias over the given knowledge bases, each counting equally."""
    parts = [(s.cross, s.cross_y) if cross else (s.same, s.same_y) for s in sets]
    parts = [(X, y) for X, y in parts if len(y) and (not cross or y.any())]
    X = np.vstack([X for X, _ in parts])
    y = np.concatenate([y for _, y in parts]).astype(float)
    each = np.concatenate([np.full(len(p[1]), len(y) / (len(parts) * len(p[1]))) for p in parts])
    weights, bias = fit_logistic(X, y, weight=each)
    return [round(float(w), 5) for w in weights], round(bias - math.log(odds), 5)


def _rates(X: np.ndarray, y: np.ndarray, kinds: list[str], kind: str, w: list[float], b: float) -> tuple[float, float] | None:
    """(right, wrong) shares of ``kind`` answered at P >= 0.5 of the shifted map (for
    off-topic kinds: (0, answered))."""
    idx = [i for i, k in enumerate(kinds) if k == kind]
    if not idx:
        return None
    answered = (X[idx] @ np.array(w) + b) >= 0.0
    return float((answered & (y[idx] == 1)).mean()), float((answered & (y[idx] == 0)).mean())


def _pct(r: tuple[float, float] | None, off: bool = False) -> str:
    if r is None:
        return "-"
    return f"{r[1]:.0%} answered" if off else f"{r[0]:.0%} / {r[1]:.0%}"


def leave_one_out(
    data: dict[str, Labelled], odds: float = ANSWER_ODDS, cross_odds: float = CROSS_ANSWER_ODDS
) -> list[str]:
    """Each knowledge base judged by weights fitted on the others: the honest figure."""
    lines = [
        "| applied to (fitted on the others) | right / wrong | off-topic | cross right / wrong |",
        "|---|---|---|---|",
    ]
    same, cross = [], []
    for name, s in data.items():
        others = [data[o] for o in data if o != name]
        w, b = fit(others, cross=False, odds=odds)
        cw, cb = fit(others, cross=True, odds=cross_odds)
        para = _rates(s.same, s.same_y, s.same_kind, "paraphrase", w, b)
        off = _rates(s.same, s.same_y, s.same_kind, "off_topic", w, b)
        xl = _rates(s.cross, s.cross_y, s.cross_kind, "cross", cw, cb)
        same.append(para)
        if xl is not None:
            cross.append(xl)
        lines.append(f"| {name} | {_pct(para)} | {_pct(off, off=True)} | {_pct(xl)} |")
    mean = tuple(float(np.mean([r[i] for r in same])) for i in (0, 1))
    mean_x = tuple(float(np.mean([r[i] for r in cross])) for i in (0, 1))
    lines.append(
        f"| **mean** | {_pct(mean)} (worst wrong {max(r[1] for r in same):.0%}) | | {_pct(mean_x)} |"
    )
    return lines


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Probability that a random positive scores above a random negative (ties count half)."""
    pos, neg = scores[labels == 1], scores[labels == 0]
    if not len(pos) or not len(neg):
        return float("nan")
    above = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(above / (len(pos) * len(neg)))


def threshold_ceiling(data: dict[str, Labelled], max_wrong: float = 0.05) -> list[str]:
    """Each set under the map fitted on the others, then the threshold that set itself
    would pick (an oracle): how many right answers a threshold alone could reach."""
    lines = [
        "| set | top-1 | AUC | right / wrong now | best threshold for this set |",
        "|---|---|---|---|---|",
    ]
    for name, s in data.items():
        w, b = fit([data[o] for o in data if o != name], cross=False)
        z = s.same @ np.array(w) + b
        para = np.array([k == "paraphrase" for k in s.same_kind])

        def rates(t: float, z: np.ndarray = z, para: np.ndarray = para, y: np.ndarray = s.same_y) -> tuple[float, float]:
            answered = z >= t
            return float((answered & (y == 1) & para).sum() / para.sum()), float(
                (answered & (y == 0) & para).sum() / para.sum()
            )

        best = max((rates(t) for t in z if rates(t)[1] <= max_wrong), default=(0.0, 0.0))
        lines.append(
            f"| {name} | {s.same_y[para].mean():.0%} | {auc(z, s.same_y):.3f} | "
            f"{_pct(rates(0.0))} | {_pct(best)} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help=f"store the weights in {SHARED_FILE}")
    parser.add_argument("--answer-odds", type=float, default=ANSWER_ODDS, help="to compare choices")
    parser.add_argument("--cross-answer-odds", type=float, default=CROSS_ANSWER_ODDS)
    parser.add_argument(
        "--ceiling", action="store_true", help="also each set's best threshold (an oracle) and AUC"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = {name: labelled(name, Path(tmp)) for name in SETS}
    if args.ceiling:
        print("\n".join(threshold_ceiling(data)))
    weights, bias = fit(list(data.values()), cross=False, odds=args.answer_odds)
    cross_weights, cross_bias = fit(list(data.values()), cross=True, odds=args.cross_answer_odds)
    table = leave_one_out(data, args.answer_odds, args.cross_answer_odds)
    print("\n".join(table))
    shared = {
        "weights": weights,
        "bias": bias,
        "cross_weights": cross_weights,
        "cross_bias": cross_bias,
        "fitted_on": list(SETS),
        "answer_odds": args.answer_odds,
        "cross_answer_odds": args.cross_answer_odds,
        "features": "same-language: each term the mean of the knowledge base's models' readings",
        "command": "python -m bench.cs_shared_calibration --write",
    }
    print(json.dumps(shared, indent=1))
    if args.write:
        # The maps for checked matches (bench/cs_llm_check.py --write) are kept; refit them
        # after these change (their fast-map gate and features come from these).
        previous = json.loads(SHARED_FILE.read_text(encoding="utf-8"))
        if "checked" in previous:
            shared["checked"] = previous["checked"]
        SHARED_FILE.write_text(json.dumps(shared, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {SHARED_FILE}")


if __name__ == "__main__":
    main()
