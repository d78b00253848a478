"""The language model's second look at a match: how well does each entry explain the question?

Query likelihood (UPR: Sachan et al., 2022, "Improving Passage Retrieval with Zero-Shot
Question Generation"): the mean log-probability of the customer's question under the
shared language model, written after an entry's question and answer. The entry that
answers the question makes it likely; a neighbouring entry makes it less so. Asking the
0.5B model to judge a match outright (yes/no, multiple choice) did not work; this does:
the margin between the top entry and the best of the next ones separates right matches
from wrong ones better than the retrieval evidence does on most knowledge bases, and the
two together answer more questions rightly (bench/RESULTS.md, ninth session;
``python -m bench.cs_llm_check``).

It costs one short forward pass per candidate (under a second each for the 0.5B model
on two CPU cores), so it is meant for questions the fast evidence leaves in doubt, with
the language model switched on.
"""

from __future__ import annotations

import math

from core import ModelHandle
from shared_models.types.generation import PerplexityRequest

from .knowledge import StoredEntry

CANDIDATES = 3  # the top entry and its two nearest rivals
MAX_ANSWER_CHARS = 1000  # a long answer adds cost, not evidence
_CONTEXT = {
    "en": "FAQ question: {question}\nAnswer: {answer}\n\nA customer who needs this answer might ask:",
    "zh": "常见问题：{question}\n答复：{answer}\n\n需要这条答复的顾客会这样问：",
}
# The same ending with no entry before it: how likely the question is on its own, so that
# an entry's lift over it says whether that entry explains the question at all (tried as
# a term of the checked map and not kept: bench/RESULTS.md, tenth session).
_PRIOR = {"en": "A customer might ask:", "zh": "顾客会这样问："}


def entry_context(entry: StoredEntry, chinese: bool) -> str:
    """The text the question is scored after: the entry's question and answer."""
    template = _CONTEXT["zh" if chinese else "en"]
    return template.format(question=entry.question, answer=entry.answer[:MAX_ANSWER_CHARS])


def log_likelihoods(
    handle: ModelHandle, question: str, entries: list[StoredEntry], chinese: bool, prior: bool = False
) -> list[float]:
    """Mean log-probability of ``question``'s tokens after each entry, in the given order;
    with ``prior``, one more value at the end: after no entry at all. One batched
    call to the generation handle."""
    # After "...might ask:" an English question starts with a space, as it would in text.
    text = question.strip() if chinese else " " + question.strip()
    contexts = [entry_context(e, chinese) for e in entries]
    if prior:
        contexts.append(_PRIOR["zh" if chinese else "en"])
    requests = [PerplexityRequest(text, context=c) for c in contexts]
    return [-math.log(float(p)) for p in handle.call(requests)]


def margin(likelihoods: list[float]) -> float:
    """The top entry's log-likelihood minus the best of the others' (0 with no rival)."""
    if len(likelihoods) < 2:
        return 0.0
    return likelihoods[0] - max(likelihoods[1:])


__all__ = ["CANDIDATES", "entry_context", "log_likelihoods", "margin"]
