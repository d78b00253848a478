"""Customer service on companies' own FAQs: the new pipeline against the old, in one run.

    flock /tmp/springboard-heavy.lock .venv/bin/python -m bench.own_data [--companies fernleaf,xiaoman,quayside]

For each company in ``bench/own_data/`` (see its README; ``quayside`` is the held-out
set) the FAQ is imported into a fresh bot, as the page does, and every question is
asked once with the language model off. Reported per company and pipeline:

* paraphrases in the KB's language: answered with the right entry, answered wrongly,
  escalated though answerable;
* cross-lingual questions (Chinese against an English KB, English against a Chinese
  KB): the same three shares;
* off-topic questions escalated;
* "of which suggested": escalated answerable questions whose suggestions held the right
  entry, and off-topic questions that were shown suggestions at all;
* p50/p95 latency of ``bot.ask`` over all questions (after one warm-up question).

"old" is the customer-service package of commit ``OLD_COMMIT`` (MiniLM, character
n-gram BM25, the demo's calibration for every KB), extracted with ``git archive`` and
imported under another name, so both run on the same machine in the same process.
``--previous COMMIT`` adds a third pipeline the same way (e.g. the commit before a change).
``--llm-check`` adds "checked": the new pipeline with the language model checking each
match in doubt (``ask(check_with_llm=True)``; answers are not phrased), as it does when
the language model is on.
"""

from __future__ import annotations

import argparse
import csv
import importlib
import json
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from apps.customer_service import CustomerServiceBot
from core.settings import PROJECT_ROOT

DATA = Path(__file__).parent / "own_data"
COMPANIES = {
    "fernleaf": "Fernleaf Plant Co.",
    "xiaoman": "小满咖啡",
    "ledgerly": "Ledgerly",
    "pedalway": "Pedalway",
    "qinghe": "青禾生鲜",
    "yuedong": "悦动健身",
    "quayside": "Quayside Works",
}
HELD_OUT = "quayside"
OLD_COMMIT = "3c05747"  # main before issue 14's customer-service work


def load_old_package(tmp: Path, commit: str = OLD_COMMIT, name: str = "old_customer_service") -> Any:
    """``apps/customer_service`` of ``commit`` as the top-level package ``name``."""
    archive = tmp / f"{name}.tar"
    subprocess.run(
        ["git", "-C", str(PROJECT_ROOT), "archive", "-o", str(archive), commit, "apps/customer_service"],
        check=True,
    )
    with tarfile.open(archive) as tar:
        tar.extractall(tmp / name, filter="data")
    (tmp / name / "apps" / "customer_service").rename(tmp / name / name)
    sys.path.insert(0, str(tmp / name))
    return importlib.import_module(name)


def questions(company: str) -> list[dict[str, str]]:
    with (DATA / company / "questions.csv").open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def run(bot: Any, rows: list[dict[str, str]], **ask: Any) -> dict[str, Any]:
    bot.ask("hello", session_id="warm-up", **ask)
    times, outcome = [], {"paraphrase": [], "cross": [], "off_topic": []}
    suggested = {"paraphrase": [], "cross": [], "off_topic": []}
    wrong_examples = []
    for i, row in enumerate(rows):
        start = time.perf_counter()
        reply = bot.ask(row["question"], session_id=f"q{i}", **ask)
        times.append(time.perf_counter() - start)
        if reply.escalated:
            verdict = "escalated"
        elif row["kind"] == "off_topic":
            verdict = "answered"
        else:
            verdict = "right" if reply.source_id == row["expected_id"] else "wrong"
        if verdict == "wrong" or (row["kind"] == "off_topic" and verdict == "answered"):
            wrong_examples.append((row["question"], reply.source_id, round(reply.confidence, 2)))
        outcome[row["kind"]].append(verdict)
        # Escalated with suggestions (packages before them have none): did they hold the entry?
        ids = [x.id for x in getattr(reply, "suggestions", [])]
        suggested[row["kind"]].append(bool(ids) and (row["kind"] == "off_topic" or row["expected_id"] in ids))
    out: dict[str, Any] = {}
    for kind in ("paraphrase", "cross"):
        asked = [r for r in rows if r["kind"] == kind]
        tops = [bot.search(r["question"], k=3).candidates for r in asked]
        out[f"{kind}_top1"] = round(float(np.mean([bool(t) and t[0].entry.id == r["expected_id"] for t, r in zip(tops, asked, strict=True)])), 3)
        out[f"{kind}_top3"] = round(float(np.mean([r["expected_id"] in [c.entry.id for c in t] for t, r in zip(tops, asked, strict=True)])), 3)
    for kind in ("paraphrase", "cross"):
        v = outcome[kind]
        out[kind] = {k: round(v.count(k) / len(v), 3) for k in ("right", "wrong", "escalated")}
        out[kind]["n"] = len(v)
        out[kind]["suggested_right"] = round(float(np.mean(suggested[kind])), 3)
    v = outcome["off_topic"]
    out["off_topic_suggested"] = round(float(np.mean(suggested["off_topic"])), 3)
    out["off_topic_escalated"] = round(v.count("escalated") / len(v), 3)
    out["off_topic_n"] = len(v)
    ms = np.array(times) * 1000
    out["latency_ms"] = {"p50": round(float(np.percentile(ms, 50)), 1), "p95": round(float(np.percentile(ms, 95)), 1)}
    out["mistakes"] = wrong_examples
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--companies", default=",".join(COMPANIES))
    parser.add_argument("--out", type=Path, default=Path("data/customer_service/bench_own_data.json"))
    parser.add_argument("--no-old", action="store_true", help="skip the old pipeline")
    parser.add_argument(
        "--llm-check",
        action="store_true",
        help="also the new pipeline with the language model checking matches in doubt (phrasing off)",
    )
    parser.add_argument(
        "--previous",
        metavar="COMMIT",
        help="also run this commit's package (one since issue 14's work began: same API) as 'previous'",
    )
    args = parser.parse_args()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        old = None if args.no_old else load_old_package(tmp)
        previous = load_old_package(tmp, args.previous, "previous_customer_service") if args.previous else None
        for company in args.companies.split(","):
            faq, rows = DATA / company / "faq.csv", questions(company)
            started = time.perf_counter()
            bot = CustomerServiceBot(data_dir=tmp / "new" / company)
            bot.import_faq(faq, replace=True, company=COMPANIES[company])
            entry = {"held_out": company == HELD_OUT, "import_s": round(time.perf_counter() - started, 1)}
            entry["calibration"] = bot.calibration_summary()
            entry["greeting"] = bot.greeting()
            entry["new"] = run(bot, rows)
            if args.llm_check:
                entry["checked"] = run(bot, rows, check_with_llm=True)
            if previous is not None:
                prev_bot = previous.CustomerServiceBot(data_dir=tmp / "previous-data" / company)
                prev_bot.import_faq(faq, replace=True, company=COMPANIES[company])
                entry["previous"] = run(prev_bot, rows)
            if old is not None:
                old_bot = old.CustomerServiceBot(data_dir=tmp / "old-data" / company, company=COMPANIES[company])
                old_bot.import_faq(faq)
                entry["old"] = run(old_bot, rows)
                entry["old_greeting"] = old.api.SMALL_TALK["greeting"]
            results[company] = entry
            print(json.dumps({company: entry}, ensure_ascii=False, indent=1), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, ensure_ascii=False, indent=1))
    print(table(results))


def table(results: dict[str, Any]) -> str:
    lines = [
        "| company | pipeline | right | wrong | escalated (answerable) | of which suggested | off-topic escalated | of which suggested | cross right | cross wrong | p95 ms |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for company, entry in results.items():
        name = company + (" (held out)" if entry["held_out"] else "")
        for pipe in ("old", "previous", "new", "checked"):
            if pipe not in entry:
                continue
            r = entry[pipe]
            p, c = r["paraphrase"], r["cross"]
            lines.append(
                f"| {name} | {pipe} | {p['right']:.0%} | {p['wrong']:.0%} | {p['escalated']:.0%} | "
                f"{p['suggested_right']:.0%} | {r['off_topic_escalated']:.0%} | {r['off_topic_suggested']:.0%} | "
                f"{c['right']:.0%} | {c['wrong']:.0%} | {r['latency_ms']['p95']:.0f} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
