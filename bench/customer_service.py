"""Customer service benchmark: retrieval, escalation and latency on the demo knowledge base.

    flock /tmp/springboard-heavy.lock .venv/bin/python -m bench.customer_service [--llm-questions 8]

* FAQ retrieval top-1 on ``demo/paraphrases.csv`` (questions worded differently from the entries);
* the share of ``demo/out_of_scope.txt`` questions that are escalated, not answered,
  and the share of paraphrases that are answered (not escalated) with the right entry;
* answer latency with the language model off (p50/p95 of ``bot.ask``, after warm-up);
* time to the first streamed token with the language model on (the default generation model).

BANKING77 intent accuracy is measured by ``bench/customer_service_intents.py``.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from apps.customer_service import CustomerServiceBot
from apps.customer_service.datasets import DEMO_DIR


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--repeats", type=int, default=3, help="passes over the questions for latency"
    )
    parser.add_argument(
        "--llm-questions", type=int, default=8, help="questions timed with the LLM on (0: skip)"
    )
    parser.add_argument("--out", type=Path, default=Path("data/customer_service/bench_bot.json"))
    parser.add_argument(
        "--intents-dir",
        type=Path,
        default=None,
        help="a saved intent model to use (e.g. data/customer_service/intents); default: the demo head",
    )
    args = parser.parse_args()
    paraphrases = list(csv.DictReader((DEMO_DIR / "paraphrases.csv").open(encoding="utf-8")))
    oos = [
        q.strip()
        for q in (DEMO_DIR / "out_of_scope.txt").read_text(encoding="utf-8").splitlines()
        if q.strip()
    ]
    results: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        if args.intents_dir and (args.intents_dir / "intent_model.json").is_file():
            shutil.copytree(args.intents_dir, Path(tmp) / "intents")
        bot = CustomerServiceBot.demo(data_dir=tmp)
        results["intent_model"] = f"{bot.intent_model.mode}, {len(bot.intent_model.labels)} intents"
        bot.ask("warm up", session_id="warm")
        top1 = [bot.search(r["question"]).top.entry.id == r["expected_id"] for r in paraphrases]
        replies = [bot.ask(r["question"], session_id=f"p{i}") for i, r in enumerate(paraphrases)]
        answered_right = [
            not rep.escalated and rep.source_id == r["expected_id"]
            for rep, r in zip(replies, paraphrases, strict=True)
        ]
        answered_wrong = [
            not rep.escalated and rep.source_id != r["expected_id"]
            for rep, r in zip(replies, paraphrases, strict=True)
        ]
        oos_replies = [bot.ask(q, session_id=f"o{i}") for i, q in enumerate(oos)]
        results["retrieval_top1"] = float(np.mean(top1))
        results["paraphrases"] = len(paraphrases)
        results["in_scope_answered_correctly"] = float(np.mean(answered_right))
        results["in_scope_answered_wrongly"] = float(np.mean(answered_wrong))
        results["out_of_scope"] = len(oos)
        results["out_of_scope_escalated"] = float(np.mean([r.escalated for r in oos_replies]))
        results["missed_top1"] = [
            r["question"] for r, ok in zip(paraphrases, top1, strict=True) if not ok
        ]
        results["oos_answered"] = [
            q for q, r in zip(oos, oos_replies, strict=True) if not r.escalated
        ]
        print(json.dumps({k: v for k, v in results.items()}, indent=1), flush=True)

        questions = [r["question"] for r in paraphrases] + oos
        times = []
        for rep in range(args.repeats):
            for i, q in enumerate(questions):
                start = time.perf_counter()
                bot.ask(q, session_id=f"lat{rep}-{i}")
                times.append(time.perf_counter() - start)
        results["llm_off_latency_ms"] = {
            "n": len(times),
            "p50": 1000 * float(np.percentile(times, 50)),
            "p95": 1000 * float(np.percentile(times, 95)),
        }
        print("LLM off", results["llm_off_latency_ms"], flush=True)

        if args.llm_questions:
            bot.use_llm = True
            first_tokens, totals, phrased = [], [], 0
            bot.ask(paraphrases[0]["question"], session_id="llm-warm")  # load the model first
            for i, r in enumerate(paraphrases[1 : 1 + args.llm_questions]):
                start = time.perf_counter()
                first = None
                final = None
                for final in bot.ask_stream(r["question"], session_id=f"llm{i}"):
                    if first is None and not final.done and final.answer:
                        first = time.perf_counter() - start
                total = time.perf_counter() - start
                if first is not None:
                    first_tokens.append(first)
                    totals.append(total)
                    phrased += bool(final and final.phrased_by_llm)
            results["llm_on"] = {
                "model": bot.manager.spec("generation").name,
                "n": len(first_tokens),
                "first_token_s_p50": float(np.percentile(first_tokens, 50))
                if first_tokens
                else None,
                "first_token_s_p95": float(np.percentile(first_tokens, 95))
                if first_tokens
                else None,
                "first_token_s_max": float(max(first_tokens)) if first_tokens else None,
                "full_answer_s_p50": float(np.percentile(totals, 50)) if totals else None,
                "phrased_by_llm": phrased,
            }
            print("LLM on", results["llm_on"], flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
