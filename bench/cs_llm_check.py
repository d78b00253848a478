"""Would the language model's check of a match (``match_check``) sharpen the confidence?

    flock /tmp/springboard-heavy.lock .venv/bin/python -m bench.cs_llm_check [--sets fernleaf,demo]

For each labelled knowledge base of ``bench.cs_shared_calibration`` (never the held-out
quayside), every question's top three entries are scored by the shared language model
(``match_check.log_likelihoods``, through the generation handle, as the bot would) and
the top entry's margin is stored beside the retrieval evidence the bot uses now. The
model's scores are cached per model and set in ``data/customer_service/bench_llm_check/`` (about
1-1.5 s a question on the 2-core CPU, four short passes; ``--fresh`` recomputes them).

Printed:

* per set, the AUC of the retrieval confidence, of the margin and of the lift (the top
  entry's log-likelihood minus the question's after no entry), right top entry against a
  wrong one (the set's questions in the KB's language), and of the confidence and the lift,
  right top entry against an off-topic question;
* leaving one set out, the fast map alone (the bot with the language model off), then with
  the checked map deciding where the fast confidence is within ``CHECK_BAND`` (as the bot
  does with the language model on), at several answer odds and bands, and with the lift as
  one more term (not kept), for questions in the KB's language and in the other one.

``--write`` stores the checked maps (at ``CHECKED_ODDS``, ``CHECKED_CROSS_ODDS``), fitted on
every set, under "checked" and the generation model's name in
``apps/customer_service/calibration_shared.json``: each model reads likelihoods on its own
scale, so each has its own map (``SPRINGBOARD_MODELS__GENERATION=smollm2-135m`` fits the tiny
model's). The cache is per model too.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from apps.customer_service import CustomerServiceBot
from apps.customer_service.api import CHECK_BAND
from apps.customer_service.calibration import SHARED_FILE
from apps.customer_service.embedders import CJK_KB_SHARE
from apps.customer_service.match_check import CANDIDATES, log_likelihoods, margin
from bench.cs_shared_calibration import (
    ANSWER_ODDS,
    CROSS_ANSWER_ODDS,
    SETS,
    Labelled,
    _rows,
    auc,
    fit,
)
from core.manager import get_manager
from core.settings import PROJECT_ROOT

CACHE = PROJECT_ROOT / "data" / "customer_service" / "bench_llm_check"
SAME_ODDS = (1.5, 1.25, 1.0)
CROSS_ODDS = (3.0, 1.5)
# The checked maps' answer odds, chosen on the leave-one-out table this prints (``--write``).
CHECKED_ODDS = 1.25
BANDS = ((0.05, 0.95), (0.15, 0.95), (0.25, 0.95))  # to compare; CHECK_BAND is the product's
CHECKED_CROSS_ODDS = 3.0  # as the fast map: a wrong answer in another language costs more
# The language model's terms in the checked maps (retrieval.CHECKED_FEATURES), and the
# alternatives the table compares them with.
CHECKED_TERMS = ("llm_margin",)
LIFT_TERMS = ("llm_margin", "llm_lift")  # tried in the tenth session, not kept


def collect(name: str, tmp: Path, fresh: bool = False) -> list[dict]:
    """Each question of ``name``: kind, right top entry, map features, and the LM margin."""
    cached = CACHE / get_manager().handle("generation").name / f"{name}.json"
    if cached.exists() and not fresh:
        items = json.loads(cached.read_text(encoding="utf-8"))
        if all("prior" in x for x in items):  # older caches lack the prior: recompute
            return items
    faq, company, rows = _rows(name)
    bot = CustomerServiceBot(data_dir=tmp / name)
    bot.import_faq(faq, replace=True, company=company)
    retriever, handle = bot.retriever, bot.manager.handle("generation")
    chinese = retriever.kb_cjk_share >= CJK_KB_SHARE
    out, started = [], time.perf_counter()
    for row in rows:
        r = bot.search(row["question"], k=CANDIDATES)
        calibrator = retriever.cross_calibrator if r.cross_lingual else retriever.calibrator
        *lls, prior = log_likelihoods(handle, row["question"], [c.entry for c in r.candidates], chinese, prior=True)
        out.append({
            "question": row["question"], "kind": row["kind"], "cross": r.cross_lingual,
            "right": int(row["kind"] != "off_topic" and r.top.entry.id == row["expected_id"]),
            "confidence": r.confidence, "scaled": calibrator.scaled(r.features),
            "llm_margin": margin(lls), "llm_lift": lls[0] - prior, "lls": lls, "prior": prior,
        })  # fmt: skip
    print(f"{name}: {len(out)} questions, {(time.perf_counter() - started) / len(out):.2f} s each", flush=True)
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps(out, ensure_ascii=False), encoding="utf-8")
    return out


def labelled(items: list[dict], cross: bool, terms: tuple[str, ...]) -> Labelled:
    """One set's questions of one kind (same language or cross) as a map's training rows,
    the fast map's terms followed by the language model's ``terms``."""
    chosen = [x for x in items if x["cross"] == cross]
    X = np.array([x["scaled"] + [x[t] for t in terms] for x in chosen])
    y = np.array([x["right"] for x in chosen])
    kinds = [x["kind"] for x in chosen]
    return Labelled(X, y, kinds, np.zeros((0, 1)), np.zeros(0), [])


def _decide(z_fast: np.ndarray, z_checked: np.ndarray | None, band: tuple[float, float]) -> np.ndarray:
    """Answered or not: the checked map's verdict where the fast confidence is in the band."""
    if z_checked is None:
        return z_fast >= 0
    confidence = 1 / (1 + np.exp(-z_fast))
    checked = (confidence >= band[0]) & (confidence < band[1])
    return np.where(checked, z_checked >= 0, z_fast >= 0)


def leave_one_out(
    data: dict[str, list[dict]],
    cross: bool,
    odds: float | None,
    band: tuple[float, float] = CHECK_BAND,
    terms: tuple[str, ...] = CHECKED_TERMS,
) -> tuple[str, list[float], float]:
    """The sets judged by maps fitted on the others (``odds`` None: the fast map alone);
    the table row, and the checked map fitted on every set at these odds. A question whose
    fast confidence is in ``band`` is judged by the checked map, any other by the fast map."""
    kind = "cross" if cross else "paraphrase"
    fast_odds = CROSS_ANSWER_ODDS if cross else ANSWER_ODDS
    sets = {n: labelled(v, cross, terms) for n, v in data.items()}
    sets = {n: s for n, s in sets.items() if s.same_y.any()}
    fast = {n: labelled(v, cross, ()) for n, v in data.items() if n in sets}
    rates = []
    for name, s in sets.items():
        w0, b0 = fit([fast[o] for o in sets if o != name], cross=False, odds=fast_odds)
        z_fast = fast[name].same @ np.array(w0) + b0
        z_checked = None
        if odds is not None:
            w1, b1 = fit([sets[o] for o in sets if o != name], cross=False, odds=odds)
            z_checked = s.same @ np.array(w1) + b1
        answered = _decide(z_fast, z_checked, band)
        idx = np.array([k == kind for k in s.same_kind])
        off = np.array([k == "off_topic" for k in s.same_kind])
        right = float((answered & (s.same_y == 1) & idx).sum() / idx.sum())
        wrong = float((answered & (s.same_y == 0) & idx).sum() / idx.sum())
        rates.append((right, wrong, float(answered[off].mean()) if off.any() else None))
    right, wrong = (float(np.mean([r[i] for r in rates])) for i in (0, 1))
    offs = [r[2] for r in rates if r[2] is not None]
    off_topic = f"{np.mean(offs):.1%} (worst {max(offs):.0%})" if offs else "-"
    what = "fast map alone" if odds is None else f"+ {' + '.join(terms)} in {band[0]}-{band[1]}, odds {odds}"
    row = (
        f"| {'cross' if cross else 'same'} | {what} | {right:.1%} / {wrong:.1%} | "
        f"{max(r[1] for r in rates):.0%} | {off_topic} |"
    )
    weights, bias = fit(list(sets.values()), cross=False, odds=odds or fast_odds)
    return row, weights, bias


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--fresh", action="store_true", help="recompute the cached model scores")
    parser.add_argument("--write", action="store_true", help=f"store the checked maps in {SHARED_FILE}")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = {name: collect(name, Path(tmp), args.fresh) for name in args.sets.split(",")}
    print(
        "| set | AUC, retrieval confidence | AUC, LM margin | AUC, LM lift | "
        "AUC against off-topic: confidence / lift |\n|---|---|---|---|---|"
    )
    for name, items in data.items():
        same = [x for x in items if not x["cross"]]
        pairs = [x for x in same if x["kind"] == "paraphrase"]
        y = np.array([x["right"] for x in pairs])
        # A right match against an off-topic question: can the score tell that none fits?
        vs_off = [x for x in same if x["right"] or x["kind"] == "off_topic"]
        y_off = np.array([x["right"] for x in vs_off])
        cells = [auc(np.array([x[t] for x in pairs]), y) for t in ("confidence", "llm_margin", "llm_lift")]
        cells += [auc(np.array([x[t] for x in vs_off]), y_off) for t in ("confidence", "llm_lift")]
        print(f"| {name} | " + " | ".join(f"{c:.3f}" for c in cells[:3]) + f" | {cells[3]:.3f} / {cells[4]:.3f} |")
    if len(data) < 3:
        return
    print(
        "\n| language | map | right / wrong (left out, mean) | worst wrong | off-topic answered |"
        "\n|---|---|---|---|---|"
    )
    chosen = {}
    for cross, odds_list, pick in ((False, SAME_ODDS, CHECKED_ODDS), (True, CROSS_ODDS, CHECKED_CROSS_ODDS)):
        print(leave_one_out(data, cross, None)[0])
        for odds in odds_list:
            row, weights, bias = leave_one_out(data, cross, odds, CHECK_BAND)
            print(row)
            if odds == pick:
                chosen[cross] = (weights, bias)
        for band in BANDS:
            if band != CHECK_BAND:
                print(leave_one_out(data, cross, pick, band)[0])
        print(leave_one_out(data, cross, pick, CHECK_BAND, LIFT_TERMS)[0])
    if args.write:
        model = get_manager().handle("generation").name  # each model's likelihoods, its own map
        shared = json.loads(SHARED_FILE.read_text(encoding="utf-8"))
        shared.setdefault("checked", {})[model] = {
            "model": model,
            "weights": chosen[False][0], "bias": chosen[False][1],
            "cross_weights": chosen[True][0], "cross_bias": chosen[True][1],
            "answer_odds": CHECKED_ODDS, "cross_answer_odds": CHECKED_CROSS_ODDS,
            "features": "the same map's terms and the language model's margin (match_check.margin)",
            "fitted_on": list(data), "command": "python -m bench.cs_llm_check --write",
        }  # fmt: skip
        SHARED_FILE.write_text(json.dumps(shared, indent=1) + "\n", encoding="utf-8")
        print(f"wrote the checked maps for {model} to {SHARED_FILE}")


if __name__ == "__main__":
    main()
