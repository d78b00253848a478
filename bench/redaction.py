"""What redaction costs at the storage boundary: storing a chat turn with and without it.

Messages are everyday customer questions, a third of them carrying an email, a phone,
a card or an address. The baseline is the same ``ConversationStore.record_turn`` in
``keep`` mode (no redaction), in the same run, on the same SQLite file system. Run:

    .venv/bin/python -m bench.redaction [--turns 2000]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from apps.customer_service.conversations import ConversationStore
from apps.customer_service.knowledge import APP, MIGRATIONS
from core.privacy import Redactor
from core.storage import Database

PLAIN = [
    "where is my parcel? it was due on Tuesday",
    "how do I change the delivery address for order 100234",
    "can I pay in three instalments",
    "the app says error 502 when I log in, version 4.2.1",
]
PERSONAL = [
    "my email is ana.lopez@example.com, please send the invoice there",
    "call me back on +44 20 7946 0958 or 13812345678",
    "card 4111 1111 1111 1111 was charged twice",
    "I logged in from 203.0.113.7 and was locked out",
]


def _messages(n: int) -> list[str]:
    pool = PLAIN * 2 + PERSONAL  # a third carry personal data
    return [f"{pool[i % len(pool)]} (#{i})" for i in range(n)]


def _store_turns(store: ConversationStore, messages: list[str]) -> float:
    start = time.perf_counter()
    for i, text in enumerate(messages):
        store.record_turn(f"s{i % 50}", text, "Thanks, we are on it.", intent=None, intent_confidence=None,
                          sentiment=0.0, source_id=None, confidence=0.9, escalated=False, ticket_reason=None)
    return (time.perf_counter() - start) / len(messages)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    messages = _messages(args.turns)
    mask = Redactor("mask")
    start = time.perf_counter()
    for text in messages:
        mask.redact(text)
    redact_us = (time.perf_counter() - start) / len(messages) * 1e6

    times: dict[str, list[float]] = {"keep": [], "mask": [], "hash": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for mode in times:  # interleaved, so disk and cache effects fall on all alike
                db = Database(Path(tmp) / f"{mode}-{r}.db")
                db.migrate(APP, MIGRATIONS)
                redactor = Redactor(mode, salt=b"bench" if mode == "hash" else None)
                times[mode].append(_store_turns(ConversationStore(db, redactor), messages))
    keep = statistics.median(times["keep"])
    print(f"redact one message: {redact_us:.1f} us (mean over {len(messages)})")
    for mode, values in times.items():
        t = statistics.median(values)
        print(f"record_turn {mode:4}: {t * 1e3:.3f} ms per turn  ({t / keep:.2f}x keep)")


if __name__ == "__main__":
    main()
