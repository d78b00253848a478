"""What "Why this answer?" costs: ``ask(explain=True)`` against a plain ``ask``.

Every reply carries its explanation (matched words, scores, threshold, intent top 3,
escalation sentence), built from what answering computed anyway; ``explain=True`` adds
the intent's word attributions by occlusion (the question once more per word, one
batched embedding call). Both run on the demo knowledge base (MiniLM, demo intents),
on the demo's paraphrase questions, interleaved in the same run; median per question.
Run:

    .venv/bin/python -m bench.cs_explain [--questions 32] [--rounds 3]
"""

from __future__ import annotations

import argparse
import csv
import statistics
import tempfile
import time
from pathlib import Path

from apps.customer_service import CustomerServiceBot
from apps.customer_service.datasets import DEMO_DIR
from core import get_manager


def _time(bot: CustomerServiceBot, questions: list[str], explain: bool, tag: str) -> float:
    start = time.perf_counter()
    for i, q in enumerate(questions):
        bot.ask(q, session_id=f"{tag}-{i}", explain=explain)
    return (time.perf_counter() - start) / len(questions)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--questions", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rows = list(csv.DictReader((DEMO_DIR / "paraphrases.csv").open(encoding="utf-8")))
    questions = [r["question"] for r in rows[: args.questions]]
    words = statistics.mean(len(q.split()) for q in questions)
    with tempfile.TemporaryDirectory() as folder:
        bot = CustomerServiceBot.demo(data_dir=Path(folder), manager=get_manager())
        bot.ask("warm up", session_id="warm", explain=True)  # models loaded before timing
        plain, explained = [], []
        for r in range(args.rounds):
            plain.append(_time(bot, questions, False, f"p{r}"))
            explained.append(_time(bot, questions, True, f"e{r}"))
    p, e = statistics.median(plain), statistics.median(explained)
    print(f"{len(questions)} questions ({words:.1f} words on average), {args.rounds} rounds")
    print(f"ask:               {p * 1000:.1f} ms per question")
    print(f"ask(explain=True): {e * 1000:.1f} ms per question  ({e / p:.2f}x)")


if __name__ == "__main__":
    main()
