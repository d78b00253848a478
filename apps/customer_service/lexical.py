"""BM25 over words and character n-grams, updated in place as entries change.

Latin-script words are kept whole (minus stop words) and also split into
character 4-grams, so "refunded" still meets "refund". Chinese has no spaces:
runs of Han characters are segmented into words by jieba (search mode, so
"自行车" also yields "自行" and "行车"), minus function words, plus the single
characters, so a word jieba splits differently in the question and the entry
still overlaps. Kana and Hangul runs fall back to character unigrams and bigrams.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import unicodedata
from collections import Counter

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]")
STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "if",
        "of",
        "to",
        "in",
        "on",
        "at",
        "for",
        "from",
        "by",
        "with",
        "about",
        "into",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "am",
        "do",
        "does",
        "did",
        "done",
        "have",
        "has",
        "had",
        "i",
        "me",
        "my",
        "mine",
        "we",
        "our",
        "you",
        "your",
        "he",
        "she",
        "it",
        "its",
        "they",
        "them",
        "their",
        "this",
        "that",
        "these",
        "those",
        "what",
        "which",
        "who",
        "whom",
        "how",
        "why",
        "when",
        "where",
        "can",
        "could",
        "would",
        "should",
        "will",
        "shall",
        "may",
        "might",
        "must",
        "not",
        "no",
        "so",
        "than",
        "too",
        "very",
        "just",
        "there",
        "here",
        "as",
        "up",
        "out",
        "any",
        "some",
        "all",
        "get",
        "got",
        "please",
        "hi",
        "hello",
    ]
)
NGRAM = 4
_HAN_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
# A word's CJK and non-CJK parts ("app里" -> "app", "里").
_SCRIPT_PARTS = re.compile(
    r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]+|[^\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]+"
)
# Chinese function words and pronouns: as frequent in off-topic questions as in any entry.
CHINESE_STOP_WORDS = frozenset(
    ["的", "了", "吗", "呢", "吧", "啊", "呀", "么", "是", "在", "有", "和", "与", "或", "就", "都", "也", "还", "又", "把", "被", "给", "让", "我", "你", "您", "他", "她", "它", "我们", "你们", "他们", "我的", "你的", "您的", "这", "那", "这个", "那个", "哪", "哪个", "什么", "怎么", "怎样", "怎么样", "如何", "为什么", "吗", "请", "请问", "可以", "能", "能不能", "可不可以", "会", "要", "想", "一下", "一个", "一些", "多少", "几", "啥", "嘛", "呃", "哦", "嗯", "好", "谢谢", "你好"]
)
_jieba_lock = threading.Lock()
_jieba = None


def _segmenter():
    """jieba, imported and its dictionary loaded once (about half a second)."""
    global _jieba
    with _jieba_lock:
        if _jieba is None:
            import jieba

            jieba.setLogLevel(logging.WARNING)
            jieba.initialize()
            _jieba = jieba
    return _jieba


def tokenize(text: str) -> list[str]:
    """Word, character n-gram and CJK tokens of ``text``."""
    text = unicodedata.normalize("NFKC", text).lower()
    tokens: list[str] = []
    for word in _WORD.findall(text):
        if _CJK.search(word):
            tokens += _cjk_tokens(word)
            continue
        if word in STOP_WORDS:
            continue
        tokens.append("w:" + word)
        if len(word) > NGRAM:
            padded = f"<{word}>"
            tokens += ["g:" + padded[i : i + NGRAM] for i in range(len(padded) - NGRAM + 1)]
    return tokens


def _cjk_tokens(run: str) -> list[str]:
    # A run may mix scripts ("app里"); split CJK characters from the rest first.
    tokens: list[str] = []
    for part in _SCRIPT_PARTS.findall(run):
        if _HAN_RUN.fullmatch(part):
            tokens += _chinese_tokens(part)
        elif _CJK.match(part):
            tokens += ["c:" + ch for ch in part]
            tokens += ["c:" + part[i : i + 2] for i in range(len(part) - 1)]
        elif part not in STOP_WORDS:
            tokens.append("w:" + part)
    return tokens


def _chinese_tokens(run: str) -> list[str]:
    """jieba's search-mode words of a Han run (function words dropped), and its characters."""
    words = [w for w in _segmenter().lcut_for_search(run) if w not in CHINESE_STOP_WORDS]
    chars = [ch for ch in run if ch not in CHINESE_STOP_WORDS]
    return ["z:" + w for w in words if len(w) > 1] + ["c:" + ch for ch in chars]


def word_spans(text: str) -> list[tuple[int, int]]:
    """The words of ``text`` as (start, end) offsets into ``text`` itself: the units
    ``tokenize`` draws its tokens from. Latin-script words whole; Han runs split into
    jieba's words (its default mode); kana and Hangul runs whole."""
    spans: list[tuple[int, int]] = []
    for match in _WORD.finditer(text):
        if not _CJK.search(match.group()):
            spans.append(match.span())
            continue
        for part in _SCRIPT_PARTS.finditer(match.group()):
            start = match.start() + part.start()
            if _HAN_RUN.fullmatch(part.group()):
                spans += [(start + s, start + e) for _w, s, e in _segmenter().tokenize(part.group())]
            else:
                spans.append((start, start + len(part.group())))
    return spans


def primary_term(word: str) -> str:
    """The token that stands for a whole word (as ``tokenize`` writes it): "w:refund",
    "z:银行卡", or "c:卡" for one Han character. A word sharing only this word's n-grams or
    characters with a text matches it in part."""
    word = unicodedata.normalize("NFKC", word).lower()
    if _HAN_RUN.fullmatch(word):
        return ("z:" if len(word) > 1 else "c:") + word
    if _CJK.search(word):
        return "c:" + word
    return "w:" + word


class BM25Index:
    """Okapi BM25 with incremental add/remove (document frequencies kept current)."""

    def __init__(self, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.docs: dict[int, Counter] = {}
        self.lengths: dict[int, int] = {}
        self.df: Counter = Counter()
        self.total_length = 0

    def __len__(self) -> int:
        return len(self.docs)

    def add(self, doc_id: int, text: str) -> None:
        self.remove(doc_id)
        counts = Counter(tokenize(text))
        self.docs[doc_id] = counts
        self.lengths[doc_id] = sum(counts.values())
        self.total_length += self.lengths[doc_id]
        self.df.update(counts.keys())

    def remove(self, doc_id: int) -> None:
        counts = self.docs.pop(doc_id, None)
        if counts is None:
            return
        self.total_length -= self.lengths.pop(doc_id)
        self.df.subtract(counts.keys())
        for term in counts:
            if self.df[term] <= 0:
                del self.df[term]

    def terms(self, doc_id: int) -> frozenset[str]:
        """The tokens of one indexed document (empty if it is not indexed)."""
        return frozenset(self.docs.get(doc_id, ()))

    def idf(self, term: str) -> float:
        n, df = len(self.docs), self.df.get(term, 0)
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def scores(self, query: str) -> tuple[dict[int, float], dict[int, float]]:
        """BM25 score per matching document, and the IDF-weighted share of the
        query's terms that each document contains (0..1, comparable across queries)."""
        terms = Counter(tokenize(query))
        if not terms or not self.docs:
            return {}, {}
        avg = self.total_length / len(self.docs)
        weights = {t: self.idf(t) for t in terms}
        # Terms no entry contains still count in the denominator: a query about
        # something the knowledge base never mentions has low coverage.
        unseen = math.log(1 + (len(self.docs) + 0.5) / 0.5)
        denom = sum(weights[t] if t in self.df else unseen for t in terms) or 1.0
        scores: dict[int, float] = {}
        coverage: dict[int, float] = {}
        for doc_id, counts in self.docs.items():
            s = 0.0
            covered = 0.0
            norm = self.k1 * (1 - self.b + self.b * self.lengths[doc_id] / avg)
            for term in terms:
                tf = counts.get(term)
                if tf:
                    s += weights[term] * tf * (self.k1 + 1) / (tf + norm)
                    covered += weights[term]
            if s > 0:
                scores[doc_id] = s
                coverage[doc_id] = covered / denom
        return scores, coverage
