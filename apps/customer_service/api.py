"""The customer service bot: the Python API behind the page.

from apps.customer_service import CustomerServiceBot
bot = CustomerServiceBot.from_faq("faq.csv", company="Velo Shop")   # .csv/.json/.md
bot.greeting(), bot.example_questions()   # from the company's own name and categories
bot.calibration                 # fitted on this knowledge base at import, refitted after edits
reply = bot.ask("where is my parcel?", session_id="s1")
reply.answer, reply.source_id, reply.confidence, reply.escalated, reply.intent
reply.why                       # Explanation: matched words, scores, threshold, escalation reason
bot.ask("...", explain=True).why.intent_words   # + the words that drove the intent (occlusion)
bot.explain("where is my parcel?")              # the same, without answering or storing anything
bot.train_intents(examples)      # DataFrame or list of (text, intent); intents are off until then
                                 # (the demo knowledge bases use the demo intents)
bot.evaluate_intents(examples)   # dict with accuracy, macro_f1, confusion
"""

from __future__ import annotations

import functools
import getpass
import logging
import re
import threading
import time
import weakref
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from core import get_manager
from core.audit import AuditLog
from core.errors import InvalidInputError, ModelUnavailableError, SpringboardError
from core.privacy import Redactor
from core.retention import DailyJob, cutoff
from core.storage import Database
from shared_models.types.embedding import DEFAULT_MODEL as ENGLISH_EMBEDDING_MODEL
from shared_models.types.embedding import MULTILINGUAL_MODEL, EmbedText

from . import explain as why
from . import match_check
from .calibration import META_KEY as CALIBRATION_KEY
from .calibration import Calibration, calibrate
from .conversations import NO_ANSWER, ConversationStore
from .datasets import DEMO_FAQ, DEMO_FAQ_ZH, DEMO_INTENTS, read_labelled_csv
from .embedders import AUTO, CJK_KB_SHARE, Embedders, choose_model, describe
from .evaluation import (
    AnswerEvaluation,
    QuestionOutcome,
    check_known,
    normalise_questions,
    rates,
    verdict,
)
from .explain import Explanation
from .importers import FaqEntry, parse_faq, read_faq_file
from .intents import IntentModel, Mode, ProgressFn, classification_metrics, normalise_examples
from .knowledge import APP as KB_APP
from .knowledge import LEGACY_EMBEDDING_MODEL, KnowledgeBase, StoredEntry
from .knowledge import MIGRATIONS as KB_MIGRATIONS
from .phrasing import build_request, is_grounded, quarantine_instructions, stream_phrasing
from .refit import DebouncedRefit
from .retrieval import Calibrator, HybridRetriever, Retrieval, cjk_share
from .sentiment import Sentiment, analyse
from .session_data import APP_FOLDER, DB_FILE, erase_session, export_session, purge_before

log = logging.getLogger(__name__)

REFIT_DELAY_S = 1.0  # after the last single edit; a burst of edits costs one refit
DEFAULT_THRESHOLD = 0.5  # calibrated P(correct); below it the bot escalates
# An escalated question whose best match is at least this likely to be right also gets the
# top entries as suggestions, so the customer can help themselves while a person looks.
# On bench/own_data's six tuning companies and the demo (never quayside) a floor of 0.15
# put the right entry among the 3 suggested for 22% of answerable questions, about two
# thirds of the escalated ones, and showed suggestions for 6% of unrelated questions
# (bench/RESULTS.md).
SUGGESTION_FLOOR = 0.15
# With the language model on, a match whose confidence falls in this band is checked by it
# (match_check): a second or so on two CPU cores, so not for matches already clear either way.
CHECK_BAND = (SUGGESTION_FLOOR, 0.95)  # below the floor, off-topic questions are the rule
MAX_SUGGESTIONS = 3
DEMO_COMPANY = "Kestrel Money"
# The knowledge bases the page offers: each has its own folder, index, calibration and chats.
KNOWLEDGE_BASES = {
    "own": "Your knowledge base",
    "demo": "Demo: Kestrel Money (English)",
    "demo-zh": "Demo: Kestrel Money (中文)",
}
# By default the model(s) follow the knowledge base's language (embedders.choose_model):
# an English one is searched with MiniLM and multilingual-e5-small fused, questions in
# another language with e5 alone; a Chinese one with e5. A model name fixes the choice.
DEFAULT_EMBEDDING_MODEL = AUTO
NO_INTENTS_HINT = (
    "Intents are off for this knowledge base: no intent model is trained. Train one in the "
    "Intents tab from a CSV of `text,intent` rows (a few examples per intent is enough)."
)
FALLBACK = (
    "I'm sorry, I couldn't find a reliable answer to that in our help articles. "
    "I've passed your question to our support team (ticket #{ticket}); a person will reply here."
)
HUMAN_HANDOVER = (
    "Of course. I've passed this conversation to our support team (ticket #{ticket}); "
    "a person will pick it up here shortly."
)
SUGGESTIONS_INTRO = "\n\nIn the meantime, one of these help articles may answer it:"
OFFER_HUMAN = (
    "\n\nI'm sorry this has been frustrating. If you'd like, I can hand you over to a member "
    'of our team: just say "talk to a human".'
)
# The same messages for a Chinese knowledge base (``language == "zh"``), in the customers' language.
IN_CHINESE = {
    FALLBACK: (
        "抱歉，我在帮助文档里没有找到可靠的答案。您的问题已转给我们的客服团队（工单号 #{ticket}），"
        "工作人员会在这里回复您。"
    ),
    HUMAN_HANDOVER: "好的。我已把这段对话转给我们的客服团队（工单号 #{ticket}），工作人员很快会在这里接手。",
    SUGGESTIONS_INTRO: "\n\n在此期间，以下帮助文章也许能解答您的问题：",
    OFFER_HUMAN: "\n\n很抱歉给您带来了不便。如果您愿意，我可以为您转接人工客服：回复“转人工”即可。",
}
THANKS = {
    "en": "You're welcome! Is there anything else I can help with?",
    "zh": "不客气！还有什么可以帮您的吗？",
}
_GREETING_WORDS = re.compile(
    r"\b(hi|hello|hey|hiya|good (morning|afternoon|evening))\b|你好|您好|嗨|早上好|晚上好",
    re.IGNORECASE,
)
_HUMAN_REQUEST = re.compile(
    r"\b(talk|speak|chat|connect|transfer|put)\b.{0,30}\b(human|person|agent|someone|representative|staff|manager)\b"
    r"|\b(real|live)\s+(person|human|agent)\b|^\s*(human|agent|operator)\s*[.!?]*\s*$|转人工|人工客服",
    re.IGNORECASE,
)
# Small talk is answered only when the words say so too: a ten-intent demo model
# alone would call "what's the weather like?" a greeting.
_SMALL_TALK_WORDS = re.compile(
    r"\b(hi|hello|hey|hiya|good (morning|afternoon|evening)|thanks|thank you|thx|cheers|"
    r"appreciated?)\b|你好|您好|谢谢|多谢|嗨",
    re.IGNORECASE,
)
# Words that tie a short message to the previous one: a connective at the start, or a
# pronoun that refers back ("how long does *that* take?").
_FOLLOW_UP = re.compile(
    r"^\s*(and|also|but|so|then|what about|how about)\b|\b(it|its|that|this|they|them|those|these|there)\b",
    re.IGNORECASE,
)
_AFFIRMATIVE = re.compile(
    r"^\s*(yes|yes please|yeah|yep|ok|okay|please do|sure)\b|^\s*(好的?|是的?|可以|行|嗯|需要|麻烦)",
    re.IGNORECASE,
)


@dataclass
class Source:
    """A knowledge base entry that was considered for an answer."""

    id: str
    question: str
    category: str
    score: float


@dataclass
class Reply:
    """The bot's answer to one message, with everything needed to show or audit it."""

    answer: str
    source_id: str | None
    confidence: float
    escalated: bool
    intent: str | None
    intent_confidence: float | None = None
    sentiment: str = "neutral"
    sentiment_score: float = 0.0
    offer_human: bool = False
    ticket_id: int | None = None
    message_id: int | None = None
    session_id: str = ""
    source_question: str | None = None
    sources: list[Source] = field(default_factory=list)
    # Escalated, but a likely match: the entries suggested to the customer (SUGGESTION_FLOOR).
    suggestions: list[Source] = field(default_factory=list)
    phrased_by_llm: bool = False
    done: bool = True
    why: Explanation | None = None  # on the final reply: why this answer (see explain.py)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class _Route:
    """How the bot will treat one message, decided before it writes the answer."""

    threshold: float
    human: str | None = None  # the escalation sentence, when the customer wants a person
    retrieval: Retrieval | None = None
    searched: str = ""  # the text retrieval ran on (a follow-up adds the previous question)
    follow_up: bool = False
    small_talk: str | None = None  # the reply, when the message is small talk the bot answers
    confident: bool = False

    @property
    def escalated(self) -> bool:
        return self.human is not None or (not self.confident and self.small_talk is None)


@dataclass
class _Intents:
    """The intent model's probabilities for one message (columns follow ``labels``)."""

    model: IntentModel
    probabilities: np.ndarray

    @property
    def best(self) -> tuple[str, float]:
        i = int(self.probabilities.argmax())
        return self.model.labels[i], round(float(self.probabilities[i]), 4)


@functools.cache
def _no_checked_map(model: str) -> None:
    """Say once per model, not on every question in doubt, why its matches are not checked."""
    log.info("No checked map for %s, so matches are not checked (python -m bench.cs_llm_check --write fits one)", model)


class CustomerServiceBot:
    """Answers from a knowledge base, detects intents and sentiment, escalates to people."""

    def __init__(
        self,
        *,
        use_llm: bool = False,
        threshold: float | None = None,
        company: str | None = None,
        data_dir: str | Path | None = None,
        db: Database | None = None,
        manager=None,
        embedding_model: str = DEFAULT_EMBEDDING_MODEL,
        demo_intents: bool = False,
        refit_delay_s: float = REFIT_DELAY_S,
        suggestion_floor: float = SUGGESTION_FLOOR,
    ) -> None:
        """``threshold`` overrides the stored one for this bot only (see ``set_threshold``);
        an escalated question at least ``suggestion_floor`` likely to match its best entry
        is answered with the top entries as suggestions (1.0 or more: never);
        ``company`` is stored with the knowledge base; ``demo_intents`` trains the demo
        intent model when none is saved (only the demo knowledge bases do). After single
        edits the calibration is refitted in the background once edits pause for
        ``refit_delay_s`` seconds (``wait_for_calibration`` waits for it); imports refit at
        once."""
        if threshold is not None:
            _check_threshold(threshold)
        self.use_llm = bool(use_llm)
        self._threshold = None if threshold is None else float(threshold)
        if isinstance(suggestion_floor, bool) or not isinstance(suggestion_floor, (int, float)) or not (
            float(suggestion_floor) >= 0.0
        ):
            raise InvalidInputError("The suggestion floor is a confidence of 0 or more (1 or more: never suggest).")
        self.suggestion_floor = float(suggestion_floor)
        self.manager = manager or get_manager()
        settings = self.manager.settings  # an app reads settings through its manager
        self.data_dir = Path(data_dir) if data_dir else settings.data_dir / APP_FOLDER
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.db = db or Database(self.data_dir / DB_FILE)
        self.max_chars = settings.limits.max_text_chars
        # "auto": the model(s) follow the knowledge base's language, chosen at each import.
        self.auto_embedding = embedding_model == AUTO
        self._limits = settings.limits
        self._use_model(self._stored_model() if self.auto_embedding else embedding_model)
        if company is not None:
            self.company = company
        self._calibration_lock = threading.Lock()
        self.calibration: Calibration | None = None
        # Single edits refit in the background once they pause (see refit.py).
        self._refit = DebouncedRefit(self.recalibrate, refit_delay_s)
        self._ensure_calibrated()
        self.conversations = ConversationStore(self.db, Redactor.from_settings(settings))
        self.audit = AuditLog.from_settings(self.db, settings)
        self.retention_days = settings.privacy.retention_days
        self.retention_job: DailyJob | None = None
        if self.retention_days:
            self.retention_job = _start_retention(self)
        self.intents_dir = self.data_dir / "intents"
        self.demo_intents = bool(demo_intents)
        self._intent_model: IntentModel | None = None
        try:
            self._intent_model = self._load_intents()
        except ModelUnavailableError as exc:
            # A corrupt or tampered intent model must not keep the bot from answering:
            # say so; intents are off (the demo trains its intents again on first use).
            log.warning("%s Intents are off until they are trained again.", exc)
        self._intent_lock = threading.Lock()

    @classmethod
    def open(cls, kb: str, **kwargs: Any) -> CustomerServiceBot:
        """One of ``KNOWLEDGE_BASES``: "own" (empty until a FAQ is imported), "demo", "demo-zh"."""
        if kb not in KNOWLEDGE_BASES:
            raise InvalidInputError(f"Unknown knowledge base {kb!r}; choose one of {list(KNOWLEDGE_BASES)}.")
        if kb == "demo":
            return cls.demo(**kwargs)
        manager = kwargs.get("manager") or get_manager()
        root = manager.settings.data_dir / "customer_service"
        kwargs.setdefault("data_dir", root / kb)
        if kb == "demo-zh":
            return cls.demo(language="zh", **kwargs)
        return cls(**kwargs)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_faq(cls, path: str | Path, use_llm: bool = False, **kwargs: Any) -> CustomerServiceBot:
        """A bot whose knowledge base holds the entries of a .csv, .json or .md file
        (added to, or replacing by id, whatever the data directory already has).
        Without ``company``, a new knowledge base is named after the file."""
        limits = (kwargs.get("manager") or get_manager()).settings.limits
        entries = read_faq_file(path, limits)  # parse first: a bad file leaves storage untouched
        bot = cls(use_llm=use_llm, **kwargs)
        if bot.kb.get_meta("company") is None:
            bot.company = company_from_filename(Path(path).name)
        bot._choose_model(entries)
        bot.kb.upsert_many(entries)
        bot.recalibrate()
        return bot

    @classmethod
    def demo(cls, use_llm: bool = False, language: str = "en", **kwargs: Any) -> CustomerServiceBot:
        """The bot with the shipped knowledge base of the fictional neobank Kestrel Money,
        in English (``language="en"``) or Chinese ("zh"), with the demo intents."""
        kwargs.setdefault("company", DEMO_COMPANY)
        kwargs.setdefault("demo_intents", True)
        if language == "en":
            # The English demo ranks best on the fast English model (bench.customer_service:
            # answered right 70% with MiniLM against 53% with e5, same calibration method).
            kwargs.setdefault("embedding_model", ENGLISH_EMBEDDING_MODEL)
        bot = cls(use_llm=use_llm, **kwargs)
        if len(bot.kb) == 0:
            demo_faq = DEMO_FAQ_ZH if language == "zh" else DEMO_FAQ
            entries = read_faq_file(demo_faq, bot.manager.settings.limits)
            bot._choose_model(entries)
            bot.kb.upsert_many(entries)
            bot.recalibrate()
        return bot

    def _embed(self, texts: list[str | EmbedText]) -> np.ndarray:
        return self._embedders(texts)

    def _stored_model(self) -> str:
        """The model(s) this knowledge base was embedded with; for a new one, e5 (it reads
        any language) until the first import chooses."""
        self.db.migrate(KB_APP, KB_MIGRATIONS)
        rows = self.db.query("SELECT value FROM cs_meta WHERE key = 'embedding_model'")
        if rows:
            return rows[0]["value"]
        has_entries = self.db.query("SELECT 1 FROM cs_entries LIMIT 1")
        return LEGACY_EMBEDDING_MODEL if has_entries else MULTILINGUAL_MODEL

    def _use_model(self, model: str) -> None:
        """Serve the knowledge base with ``model`` (one name, or two joined by "+"); a
        knowledge base embedded with another is embedded again."""
        self.embedding_model = model
        self._embedders = Embedders(model, self.manager.handle)
        self.kb = KnowledgeBase(
            self.db, self.data_dir / "index", self._embed, self._limits,
            dim=self._embedders.dim, embedding_model=model,
        )  # fmt: skip
        self.retriever = HybridRetriever(
            self.kb, view=self._embedders.view, second_view=self._embedders.second_view
        )

    def _choose_model(self, entries: list[FaqEntry], replace: bool = False) -> None:
        """With ``embedding_model="auto"``: switch to the model(s) for the language of the
        knowledge base these entries make (before they are stored, so they are embedded once)."""
        if not self.auto_embedding:
            return
        kept = [] if replace else self.kb.all()
        questions = " ".join(e.question for e in [*entries, *kept][:200])
        model = choose_model(cjk_share(questions))
        if model != self.embedding_model:
            log.info("knowledge base language chooses embedding model %s", model)
            self._use_model(model)
            if hasattr(self, "intents_dir"):  # an intent head of the old model is dropped
                with self._intent_lock:
                    self._intent_model = self._load_intents()

    # ------------------------------------------------------------------ the company
    @property
    def company(self) -> str:
        """The company's name, stored with its knowledge base."""
        return self.kb.get_meta("company") or "our company"

    @company.setter
    def company(self, name: str) -> None:
        name = (name or "").strip()
        if not name or len(name) > 100:
            raise InvalidInputError("The company name must be 1 to 100 characters.")
        self.kb.set_meta("company", name)

    @property
    def language(self) -> str:
        """"zh" when the knowledge base's questions are mostly Chinese, else "en"."""
        questions = " ".join(e.question for e in self.kb.all()[:200])
        return "zh" if cjk_share(questions) > 0.3 else "en"

    def top_categories(self, n: int = 4) -> list[str]:
        """The knowledge base's largest categories, biggest first."""
        counts = Counter(e.category.strip() for e in self.kb.all() if e.category.strip())
        return [c for c, _ in counts.most_common(n)]

    def greeting(self) -> str:
        """What the bot says to "hello": the company's name and what it can answer."""
        cats = self.top_categories()
        if self.language == "zh":
            topics = f"您可以问我关于{'、'.join(cats)}的问题。" if cats else "请直接输入您的问题。"
            return f"您好！我是{self.company}的客服助手。{topics}"
        topics = f" Ask me about {_join_en(cats)}." if cats else " Ask me anything about our services."
        return f"Hello! I'm the {self.company} support assistant.{topics}"

    def say(self, message: str) -> str:
        """One of the bot's fixed messages in the knowledge base's language."""
        return IN_CHINESE.get(message, message) if self.language == "zh" else message

    def placeholder(self) -> str:
        """Hint text for the message box."""
        cats = self.top_categories(3)
        if self.language == "zh":
            return f"请输入关于{'、'.join(cats)}的问题…" if cats else f"请向{self.company}提问…"
        return f"Ask about {_join_en(cats)}…" if cats else f"Ask {self.company} a question…"

    def example_questions(self, n: int = 5) -> list[str]:
        """One question from each of the largest categories (then any), for the page."""
        entries = self.kb.all()
        picked: list[str] = []
        for cat in self.top_categories(n):
            first = next((e for e in entries if e.category.strip() == cat), None)
            if first is not None:
                picked.append(first.alternatives[0] if first.alternatives else first.question)
        for e in entries:
            if len(picked) >= n:
                break
            if e.question not in picked and (not e.alternatives or e.alternatives[0] not in picked):
                picked.append(e.question)
        return picked[:n]

    # ------------------------------------------------------------------ confidence
    @property
    def threshold(self) -> float:
        """Answer when the calibrated confidence reaches this; else escalate."""
        if self._threshold is not None:
            return self._threshold
        stored = self.kb.get_meta("threshold_override")
        return float(stored) if stored is not None else DEFAULT_THRESHOLD

    @property
    def threshold_overridden(self) -> bool:
        return self._threshold is not None or self.kb.get_meta("threshold_override") is not None

    def set_threshold(self, value: float | None) -> None:
        """Store a manual threshold for this knowledge base; None returns to the default."""
        if value is not None:
            _check_threshold(value)
        self._threshold = None
        self.kb.set_meta("threshold_override", None if value is None else str(float(value)))

    def recalibrate(self) -> Calibration | None:
        """Fit this knowledge base's confidence map again (import and edits do it themselves)."""
        with self._calibration_lock:
            if len(self.kb) == 0:
                self.calibration = None
                self.retriever.calibrator = Calibrator.generic()
                self.retriever.cross_calibrator = None
                self.retriever.checked_calibrators, self.retriever.checked_cross_calibrators = {}, {}
                self.kb.set_meta(CALIBRATION_KEY, None)
                return None
            fitted = calibrate(
                self.kb,
                self._embed,
                threshold=DEFAULT_THRESHOLD,
                view=self._embedders.view,
                second_view=self._embedders.second_view,
            )
            self.kb.set_meta(CALIBRATION_KEY, fitted.to_json())
            self._use_calibration(fitted)
            log.info("calibrated %d entries in %.1f s", len(self.kb), fitted.seconds)
            return fitted

    def wait_for_calibration(self, timeout: float | None = 120.0) -> bool:
        """Block until the refit that edits asked for has run (at once if none is due).

        Returns False if ``timeout`` seconds passed first."""
        return self._refit.wait(timeout)

    def _ensure_calibrated(self) -> None:
        stored = Calibration.from_json(self.kb.get_meta(CALIBRATION_KEY))
        if (
            stored is not None
            and stored.kb_revision == self.kb.revision()
            and stored.embedding_model == self.embedding_model
        ):
            self._use_calibration(stored)
        elif len(self.kb):
            self.recalibrate()  # edited by another process, or another embedding model

    def _use_calibration(self, fitted: Calibration) -> None:
        self.calibration = fitted
        self.retriever.calibrator = fitted.calibrator()
        self.retriever.cross_calibrator = fitted.cross_calibrator()
        self.retriever.checked_calibrators = fitted.checked_calibrators()
        self.retriever.checked_cross_calibrators = fitted.checked_cross_calibrators()
        self.retriever.kb_cjk_share = cjk_share(" ".join(e.question for e in self.kb.all()[:200]))

    def calibration_summary(self) -> dict[str, Any]:
        """What the Knowledge base tab shows about confidence."""
        c = self.calibration
        return {
            "threshold": self.threshold,
            "threshold_overridden": self.threshold_overridden,
            "suggestion_floor": self.suggestion_floor,
            "calibrated": c is not None,
            "answer_rate": c.answer_rate if c else None,
            "error_rate": c.error_rate if c else None,
            "off_topic_answered": c.off_topic_answered if c else None,
            "unanswerable_answered": c.unanswerable_answered if c else None,
            "positives": c.positives if c else 0,
            "negatives": c.negatives if c else 0,
            "embedding_model": self.embedding_model,
            "refitting": self._refit.pending,
            "embedding_described": describe(self.embedding_model),
            "embedding_automatic": self.auto_embedding,
        }

    # ------------------------------------------------------------------ knowledge base
    def import_faq(
        self,
        data: bytes | str | Path,
        name: str | None = None,
        *,
        replace: bool = False,
        company: str | None = None,
    ) -> dict[str, int]:
        """Import a file (path, or bytes plus its file name). Returns counts added/updated.

        ``replace`` makes the file the whole knowledge base (a company importing its own
        FAQ over a demo); without ``company`` it is then named after the file. The
        confidence calibration is refitted either way."""
        if isinstance(data, (bytes, bytearray)):
            if not name:
                raise InvalidInputError(
                    "Give the file name with the bytes, so its format is known."
                )
            entries = parse_faq(bytes(data), name, self.manager.settings.limits)
        else:
            entries = read_faq_file(data, self.manager.settings.limits)
        if replace:
            if company is None:
                company = company_from_filename(Path(name or str(data)).name)
            self._choose_model(entries, replace=True)
            self.kb.replace_all(entries)
            counts = {"added": len(entries), "updated": 0}
        else:
            self._choose_model(entries)
            counts = self.kb.upsert_many(entries)
        if company is not None:
            self.company = company
        self.recalibrate()
        return counts

    def add_entry(
        self, question: str, answer: str, category: str = "", entry_id: str = ""
    ) -> StoredEntry:
        entry = self.kb.add(entry_id, question, answer, category)
        self._refit.request()
        return entry

    def edit_entry(
        self,
        entry_id: str,
        question: str,
        answer: str,
        category: str = "",
        expected_version: int | None = None,
    ) -> StoredEntry:
        entry = self.kb.update(entry_id, question, answer, category, expected_version)
        self._refit.request()
        return entry

    def save_entry(
        self,
        entry_id: str,
        question: str,
        answer: str,
        category: str = "",
        alternatives: list[str] | str | None = None,
        expected_version: int | None = None,
    ) -> tuple[StoredEntry, bool]:
        """Update the entry ``entry_id`` if it exists, else add it (an empty id is derived
        from the question). Returns the stored entry and whether it is new.

        An update is refused with ``ConflictError`` if the entry changed since
        ``expected_version`` (someone else saved it in between).
        """
        entry_id = (entry_id or "").strip()
        if entry_id and self.kb.get(entry_id) is not None:
            entry = self.kb.update(
                entry_id, question, answer, category, expected_version, alternatives=alternatives
            )
            self._refit.request()
            return entry, False
        entry = self.kb.add(entry_id, question, answer, category, alternatives=alternatives)
        self._refit.request()
        return entry, True

    def entry(self, entry_id: str) -> StoredEntry:
        """The stored entry with this id; ``InvalidInputError`` if there is none."""
        entry = self.kb.get((entry_id or "").strip())
        if entry is None:
            raise InvalidInputError(f"No entry with id {entry_id!r}.")
        return entry

    def delete_entry(self, entry_id: str, expected_version: int | None = None) -> None:
        self.kb.delete((entry_id or "").strip(), expected_version)
        self._refit.request()

    def entries(self) -> list[StoredEntry]:
        return self.kb.all()

    def has_entry(self, entry_id: str) -> bool:
        """Whether the knowledge base has an entry with this id."""
        return isinstance(entry_id, str) and self.kb.get(entry_id.strip()) is not None

    def search(self, query: str, k: int = 5, check_with_llm: bool = False) -> Retrieval:
        """Retrieval only: ranked entries with their scores and the confidence.

        With ``check_with_llm``, a match whose confidence is in doubt (``CHECK_BAND``) is
        checked by the language model, as ``ask`` does when the language model is on."""
        query = self._check_text(query)
        retrieval = self.retriever.search(query, self._embed([query])[0], k)
        return self._checked(query, retrieval) if check_with_llm else retrieval

    def _checked(self, question: str, retrieval: Retrieval) -> Retrieval:
        """``retrieval`` with the confidence of the language model's check of the match
        (``match_check``), when its confidence is in doubt and a checked map exists for the
        generation model in use."""
        low, high = CHECK_BAND
        if retrieval.top is None or not low <= retrieval.confidence < high:
            return retrieval
        maps = self.retriever.checked_cross_calibrators if retrieval.cross_lingual else self.retriever.checked_calibrators
        candidates = [c.entry for c in retrieval.candidates[: match_check.CANDIDATES]]
        chinese = self.retriever.kb_cjk_share >= CJK_KB_SHARE
        try:
            handle = self.manager.handle("generation")
            calibrator = maps.get(handle.name)
            if calibrator is None:
                # Another model's likelihoods have another scale: a map fitted on one model
                # misreads the next (bench/RESULTS.md), so the fast confidence stands.
                _no_checked_map(handle.name)
                return retrieval
            scores = match_check.log_likelihoods(handle, question, candidates, chinese)
        except (SpringboardError, RuntimeError, OSError) as exc:
            # Model missing, out of memory, overloaded: the fast confidence stands.
            log.warning("Language model unavailable, match not checked: %s", exc)
            return retrieval
        features = {**retrieval.features, "llm_margin": match_check.margin(scores)}
        return replace(retrieval, confidence=calibrator(features), features=features, checked=True)

    def _suggests(self, retrieval: Retrieval) -> bool:
        """Whether an escalated question's best entries are suggested to the customer."""
        return retrieval.top is not None and retrieval.confidence >= self.suggestion_floor

    def _suggested_ids(self, retrieval: Retrieval) -> tuple[str, ...]:
        """The entries an escalated question would be shown as suggestions (none below the floor)."""
        if not self._suggests(retrieval):
            return ()
        return tuple(c.entry.id for c in retrieval.candidates[:MAX_SUGGESTIONS])

    def would_answer(self, confidence: float) -> bool:
        """Whether a match this confident is answered (else the bot escalates to a person)."""
        return confidence >= self.threshold

    # ------------------------------------------------------------------ answering
    def ask(
        self,
        question: str,
        session_id: str | None = None,
        use_llm: bool | None = None,
        explain: bool = False,
        check_with_llm: bool | None = None,
    ) -> Reply:
        """Answer one customer message (the whole reply at once). ``use_llm`` overrides
        the bot's setting for this message; ``explain`` adds the words that drove the
        intent to ``reply.why`` (one more batched embedding call); ``check_with_llm``
        (default: as ``use_llm``) lets the language model check a match in doubt."""
        final: Reply | None = None
        stream = self.ask_stream(question, session_id, use_llm, explain, check_with_llm)
        for final in stream:  # noqa: B007 - keep the last
            pass
        assert final is not None
        return final

    def explain(self, question: str, session_id: str | None = None) -> Explanation:
        """Why the bot answers ``question`` as it does, with the words that drove the
        intent; nothing is answered or stored. With ``session_id``, that conversation so
        far counts, as it does when answering (follow-ups, "yes" to an offer of a person)."""
        question = self._check_text(question)
        history = (
            self.conversations.history(self.conversations.check_session_id(session_id), limit=10)
            if session_id
            else []
        )
        self._require_entries()
        vector = self._embed([question])[0]
        intents = self._intents(question, vector)
        route = self._route(question, history, vector, intents, check=self.use_llm)
        return self._explanation(question, route, intents, analyse(question), occlude=True)

    def ask_stream(
        self,
        question: str,
        session_id: str | None = None,
        use_llm: bool | None = None,
        explain: bool = False,
        check_with_llm: bool | None = None,
    ) -> Iterator[Reply]:
        """Answer one message, yielding partial replies (``done=False``) while the
        language model writes, then the final, stored reply (``done=True``) with its
        explanation (``why``; with ``explain``, also the intent's word attributions).
        With the language model on (or ``check_with_llm``), a match whose confidence is
        in ``CHECK_BAND`` is first checked by it (``match_check``)."""
        question = self._check_text(question)
        session_id = self.conversations.check_session_id(session_id)
        self._require_entries()
        history = self.conversations.history(session_id, limit=10)
        vector = self._embed([question])[0]
        mood = analyse(question)
        intents = self._intents(question, vector)
        intent, intent_p = intents.best if intents else (None, None)
        base = dict(
            intent=intent,
            intent_confidence=intent_p,
            sentiment=mood.label,
            sentiment_score=mood.score,
            session_id=session_id,
        )
        llm = self.use_llm if use_llm is None else use_llm
        check = llm if check_with_llm is None else check_with_llm
        route = self._route(question, history, vector, intents, check=check)
        explanation = self._explanation(question, route, intents, mood, occlude=explain)
        if route.human is not None:
            yield self._finish(
                question, "", base, None, 1.0, escalated=True,
                reason="customer asked for a human", why=explanation,
            )  # fmt: skip
            return

        retrieval = route.retrieval
        assert retrieval is not None
        top = retrieval.top
        base["sources"] = [
            Source(c.entry.id, c.entry.question, c.entry.category, round(c.fused, 5))
            for c in retrieval.candidates
        ]
        if not route.confident and route.small_talk:
            yield self._finish(
                question, route.small_talk, base, None, retrieval.confidence,
                escalated=False, why=explanation,
            )  # fmt: skip
            return
        if not route.confident:
            suggestions = base["sources"][:MAX_SUGGESTIONS] if self._suggests(retrieval) else []
            yield self._finish(
                question, "", base, None, retrieval.confidence,
                escalated=True, reason=NO_ANSWER, why=explanation, suggestions=suggestions,
            )  # fmt: skip
            return

        assert top is not None
        entry = top.entry
        suffix = self.say(OFFER_HUMAN) if mood.angry else ""
        answer, used_llm = entry.answer, False
        if llm:
            pieces: list[str] = []
            reference, orders = quarantine_instructions(entry.answer)
            ref_question, q_orders = quarantine_instructions(entry.question)
            if orders or q_orders:
                log.warning("FAQ entry %s gives the assistant orders; not shown to the model: %s",
                            entry.id, orders + q_orders)
            try:
                request = build_request(
                    self.company,
                    question,
                    ref_question,
                    reference,
                    [{"role": m["role"], "content": m["content"]} for m in history],
                )
                for piece in stream_phrasing(self.manager.handle("generation"), request):
                    pieces.append(piece)
                    yield Reply(
                        "".join(pieces),
                        entry.id,
                        retrieval.confidence,
                        False,
                        done=False,
                        source_question=entry.question,
                        **base,
                    )
                text = "".join(pieces).strip()
                if text and is_grounded(text, f"{ref_question}\n{reference}", question):
                    answer, used_llm = text, True
                elif text:
                    log.warning("Phrased reply for %s strayed from the entry; answering verbatim: %r",
                                entry.id, text[:200])
            except (SpringboardError, RuntimeError, OSError) as exc:
                # Model missing, out of memory, overloaded: the verbatim answer is always right.
                log.warning("Language model unavailable, answering verbatim: %s", exc)
        yield self._finish(
            question,
            answer + suffix,
            base,
            entry,
            retrieval.confidence,
            escalated=False,
            offer_human=mood.angry,
            used_llm=used_llm,
            why=explanation,
        )

    def _require_entries(self) -> None:
        if len(self.kb) == 0:
            raise InvalidInputError(
                "The knowledge base is empty: import FAQ entries (CSV, JSON or Markdown) before asking."
            )

    def _wants_human(
        self, question: str, history: list[dict], intents: _Intents | None
    ) -> str | None:
        """Why the customer wants a person (the escalation sentence), or None."""
        asked = _HUMAN_REQUEST.search(question)
        if asked:
            return why.asked_for_human(asked.group().strip())
        if intents is not None:
            intent, p = intents.best
            if intent == "human_agent" and p > 0.6:
                return why.intent_asked_for_human(intent, p)
        if (
            history
            and _AFFIRMATIVE.match(question)
            and history[-1]["role"] == "assistant"
            and self.say(OFFER_HUMAN).strip()[:30] in history[-1]["content"]
        ):
            return why.ACCEPTED_OFFER  # "yes" right after the bot offered a human
        return None

    def _route(
        self,
        question: str,
        history: list[dict],
        vector: np.ndarray,
        intents: _Intents | None,
        check: bool = False,
    ) -> _Route:
        """Hand over, answer from an entry, answer small talk, or escalate (``check``: let
        the language model check a match in doubt first)."""
        route = _Route(threshold=self.threshold, searched=question)
        route.human = self._wants_human(question, history, intents)
        if route.human is not None:
            return route
        retrieval = self.retriever.search(question, vector)
        if (
            retrieval.confidence < route.threshold
            and history
            and len(question.split()) <= 6
            and _FOLLOW_UP.search(question)
        ):
            # A short follow-up ("and how long does that take?") may need the previous question.
            # Only messages that read as follow-ups qualify: an unrelated short question must
            # not borrow the previous question's match.
            previous = next((m["content"] for m in reversed(history) if m["role"] == "user"), None)
            if previous:
                combined = f"{previous} {question}"[: self.max_chars]
                alt = self.retriever.search(combined, self._embed([combined])[0])
                if alt.confidence > retrieval.confidence:
                    retrieval, route.searched, route.follow_up = alt, combined, True
        if check:
            retrieval = self._checked(route.searched, retrieval)
        route.retrieval = retrieval
        route.confident = retrieval.top is not None and retrieval.confidence >= route.threshold
        intent, intent_p = intents.best if intents else (None, None)
        route.small_talk = self._small_talk(question, intent, intent_p)
        return route

    def _explanation(
        self,
        question: str,
        route: _Route,
        intents: _Intents | None,
        mood: Sentiment,
        occlude: bool,
    ) -> Explanation:
        """The evidence behind the route taken; occlusion only when asked (it embeds
        the question once per word)."""
        if route.human is not None:
            decision = "escalated"
        elif route.confident:
            decision = "answered"
        else:
            decision = "small talk" if route.small_talk else "escalated"
        retrieval = route.retrieval
        if self.calibration is None:
            calibration = "generic calibration (this knowledge base is not calibrated yet)"
        elif retrieval is not None and retrieval.cross_lingual:
            calibration = "this knowledge base's calibration for a question in another language"
        else:
            calibration = "this knowledge base's calibration"
        if retrieval is not None and retrieval.checked and self.calibration is not None:
            calibration = f"{calibration}, checked by the language model"
        explanation = Explanation(
            question=route.searched,
            decision=decision,
            threshold=route.threshold,
            threshold_source="set by hand" if self.threshold_overridden else "default",
            calibration=calibration,
        )
        if retrieval is not None:
            top = retrieval.top
            terms = self.kb.lexical_terms(top.entry.num) if top else frozenset()
            why.from_retrieval(explanation, retrieval, terms)
        if route.human is not None:
            explanation.escalation = route.human
        elif decision == "escalated":
            assert retrieval is not None
            explanation.escalation = (
                why.below_threshold(retrieval, route.threshold) if retrieval.top else why.NOTHING_FOUND
            )
            if self._suggests(retrieval):
                explanation.notes.append(why.suggestions_note(retrieval.confidence, self.suggestion_floor))
        if route.follow_up:
            explanation.notes.append(why.FOLLOW_UP_NOTE)
        if decision == "small talk":
            assert retrieval is not None
            explanation.notes.append(why.small_talk_note(retrieval, route.threshold))
        if decision == "answered" and mood.angry:
            explanation.notes.append(why.angry_note(mood.score))
        if intents is not None:
            explanation.intents = why.top_intents(intents.model.labels, intents.probabilities)
            if occlude:
                model = intents.model
                _, explanation.intent_words = why.occlusion(
                    question,
                    lambda texts: model.probabilities(texts, embed=self._embed),
                    max_words=self.manager.settings.limits.max_batch_items - 1,
                )
        return explanation

    def _finish(
        self,
        question: str,
        answer: str,
        base: dict,
        entry: StoredEntry | None,
        confidence: float,
        *,
        escalated: bool,
        reason: str | None = None,
        offer_human: bool = False,
        used_llm: bool = False,
        why: Explanation | None = None,
        suggestions: list[Source] | None = None,
    ) -> Reply:
        template = self.say(HUMAN_HANDOVER if reason == "customer asked for a human" else FALLBACK)
        if escalated:
            # The ticket number goes into the text, so store first with a placeholder.
            answer = template
            if suggestions:
                answer += self.say(SUGGESTIONS_INTRO) + "".join(f"\n• {s.question}" for s in suggestions)
        message_id, ticket_id = self.conversations.record_turn(
            base["session_id"],
            question,
            answer,
            intent=base["intent"],
            intent_confidence=base["intent_confidence"],
            sentiment=base["sentiment_score"],
            source_id=entry.id if entry else None,
            confidence=confidence,
            escalated=escalated,
            ticket_reason=reason if escalated else None,
        )
        if ticket_id is not None:
            # Not str.format: the suggested entries' questions may hold braces of their own.
            answer = answer.replace("{ticket}", str(ticket_id))
            with self.db.transaction() as conn:
                conn.execute(
                    "UPDATE cs_messages SET content = ? WHERE id = ?", (answer, message_id)
                )
        return Reply(
            answer=answer,
            source_id=entry.id if entry else None,
            confidence=round(float(confidence), 4),
            escalated=escalated,
            offer_human=offer_human or escalated,
            ticket_id=ticket_id,
            message_id=message_id,
            source_question=entry.question if entry else None,
            phrased_by_llm=used_llm,
            done=True,
            why=why,
            suggestions=list(suggestions or []),
            **base,
        )

    def _small_talk(self, question: str, intent: str | None, intent_p: float | None) -> str | None:
        """The reply to a greeting or a thank-you, or None. The words must say so: a demo
        intent model alone would call "what's the weather like?" a greeting."""
        if not _SMALL_TALK_WORDS.search(question):
            return None
        if intent is not None and (intent not in ("greeting", "thanks") or (intent_p or 0) <= 0.6):
            return None
        if intent is None:
            intent = "greeting" if _GREETING_WORDS.search(question) else "thanks"
        return self.greeting() if intent == "greeting" else THANKS[self.language]

    def request_human(self, session_id: str, reason: str = "customer asked for a human") -> int:
        """Open (or return the open) escalation ticket for a conversation."""
        return self.conversations.open_ticket(
            self.conversations.check_session_id(session_id), reason
        )

    def history(self, session_id: str) -> list[dict]:
        return self.conversations.history(
            self.conversations.check_session_id(session_id), limit=200
        )

    def feedback(self, message_id: int, helpful: bool) -> None:
        """Thumbs up (True) or down (False) on one answer."""
        self.conversations.add_feedback(message_id, helpful)

    def _check_text(self, text: Any) -> str:
        if not isinstance(text, str):
            raise InvalidInputError(f"A message must be text, got {type(text).__name__}.")
        text = text.replace("\x00", "").strip()
        if not text:
            raise InvalidInputError("The message is empty; type a question.")
        if len(text) > self.max_chars:
            raise InvalidInputError(
                f"The message is {len(text)} characters; the limit is {self.max_chars}. Please shorten it."
            )
        return text

    # ------------------------------------------------------------------ intents
    def _load_intents(self) -> IntentModel | None:
        """The saved intent model, unless a head was trained on another embedding model's
        vectors (then it is dropped: retrained for the demo, off otherwise)."""
        model = IntentModel.load(self.intents_dir, manager=self.manager)
        if model is not None and model.mode == "head":
            trained_on = _read_text(self.intents_dir / INTENT_EMBEDDING_FILE) or "minilm-l6"
            if trained_on != self.embedding_model:
                log.warning(
                    "The intent head in %s was trained on %s vectors, not %s; it is not used.",
                    self.intents_dir, trained_on, self.embedding_model,
                )
                return None
        return model

    def _save_intents(self, model: IntentModel) -> None:
        model.save(self.intents_dir)
        (self.intents_dir / INTENT_EMBEDDING_FILE).write_text(self.embedding_model)

    @property
    def intents_enabled(self) -> bool:
        """Intents run when a model is trained for this knowledge base (or it is a demo)."""
        return self._intent_model is not None or self.demo_intents

    @property
    def intent_model(self) -> IntentModel | None:
        """The trained intent model, or None (intents off). The demo knowledge bases train
        the shipped demo intents on first use."""
        with self._intent_lock:
            if self._intent_model is None and self.demo_intents:
                texts, labels = zip(*read_labelled_csv(DEMO_INTENTS), strict=True)
                model, _ = IntentModel.train(
                    list(texts), list(labels), mode="head", embed=self._embed, manager=self.manager
                )
                self._save_intents(model)
                self._intent_model = model
            return self._intent_model

    def _require_intents(self) -> IntentModel:
        model = self.intent_model
        if model is None:
            raise InvalidInputError(NO_INTENTS_HINT)
        return model

    def intent_scores(self, text: str, top: int = 5) -> dict[str, float]:
        """The ``top`` most likely intents of one utterance, with their probabilities."""
        text = self._check_text(text)
        model = self._require_intents()
        probs = model.probabilities([text], embed=self._embed)[0]
        best = probs.argsort()[::-1][: max(1, int(top))]
        return {model.labels[i]: float(probs[i]) for i in best}

    def _intents(self, text: str, vector: np.ndarray) -> _Intents | None:
        """The intent probabilities of one message (None when intents are off)."""
        model = self.intent_model
        if model is None:
            return None
        probs = model.probabilities(
            [text], embeddings=vector[None, :] if model.mode == "head" else None
        )[0]
        return _Intents(model, probs)

    def train_intents(
        self,
        examples: Any,
        mode: Mode = "head",
        epochs: int | None = None,
        progress: ProgressFn | None = None,
    ) -> dict:
        """Train, save and start using a new intent model. ``mode``: "head" (seconds, on
        the frozen shared embeddings) or "finetune" (minutes, fine-tunes a MiniLM copy)."""
        texts, labels = normalise_examples(examples)
        model, report = IntentModel.train(
            texts,
            labels,
            mode=mode,
            embed=self._embed,
            epochs=epochs,
            progress=progress,
            manager=self.manager,
        )
        self._save_intents(model)
        with self._intent_lock:
            self._intent_model = model
        return asdict(report)

    def evaluate_intents(self, examples: Any, progress: ProgressFn | None = None) -> dict:
        """Accuracy, macro-F1 and confusion matrix of the current intent model."""
        texts, labels = normalise_examples(examples)
        model = self._require_intents()
        predictions: list[str] = []
        for i in range(0, len(texts), 256):
            chunk = texts[i : i + 256]
            predictions += [p for p, _ in model.predict(chunk, embed=self._embed)]
            if progress:
                progress(
                    min(1.0, (i + 256) / len(texts)),
                    f"Evaluated {min(i + 256, len(texts))}/{len(texts)}",
                )
        known = sorted(set(model.labels) | set(labels))
        result = classification_metrics(labels, predictions, known)
        result["unknown_intents"] = sorted(set(labels) - set(model.labels))
        return result

    # ------------------------------------------------------------------ answer tests
    def evaluate_answers(
        self, questions: Any, check_with_llm: bool = False, progress: ProgressFn | None = None
    ) -> AnswerEvaluation:
        """How the bot answers labelled questions (``evaluation``): right, wrong, escalated,
        off-topic escalated, and the latency of each decision.

        ``questions``: ``LabelledQuestion``s, ``(question, expected_id)`` pairs or dicts
        (``evaluation.normalise_questions``); an empty expected id marks a question no entry
        answers. Each is decided as ``ask`` decides a first message (a request for a person
        escalates, small talk is not an answer from the knowledge base), but nothing is
        stored: no conversation, no ticket. With ``check_with_llm``, each match in doubt is
        also checked by the language model, and both pipelines are reported."""
        asked = normalise_questions(questions)
        self._require_entries()
        check_known(asked, {e.id for e in self.kb.all()})
        checked_by = self._checking_model() if check_with_llm else None
        outcomes = []
        for i, item in enumerate(asked):
            question = item.question  # checked by normalise_questions
            started = time.perf_counter()
            vector = self._embed([question])[0]
            route = self._route(question, [], vector, self._intents(question, vector))
            fast_ms = (time.perf_counter() - started) * 1000
            retrieval = route.retrieval
            top = retrieval.top.entry.id if retrieval is not None and retrieval.top else None
            answered = top if route.human is None and route.confident else None
            extra: dict[str, Any] = {}
            if checked_by is not None:  # a question handed to a person is not checked
                checked_answer, checked_confidence, checked_suggested = None, None, ()
                if retrieval is not None and route.human is None:
                    checked = self._checked(route.searched, retrieval)
                    checked_confidence = round(checked.confidence, 4)
                    if checked.top is not None and self.would_answer(checked.confidence):
                        checked_answer = top
                    elif route.small_talk is None:  # small talk gets a reply, not suggestions
                        checked_suggested = self._suggested_ids(checked)
                extra = dict(
                    checked_answered_id=checked_answer,
                    checked_confidence=checked_confidence,
                    checked_verdict=verdict(item.expected_id, checked_answer),
                    checked_ms=(time.perf_counter() - started) * 1000,
                    checked_suggested_ids=checked_suggested,
                )
            outcomes.append(
                QuestionOutcome(
                    question=question,
                    expected_id=item.expected_id,
                    answered_id=answered,
                    top_id=top,
                    confidence=round(retrieval.confidence, 4) if retrieval is not None else 0.0,
                    verdict=verdict(item.expected_id, answered),
                    cross_lingual=bool(retrieval is not None and retrieval.cross_lingual),
                    ms=fast_ms,
                    suggested_ids=self._suggested_ids(retrieval)
                    if retrieval is not None and route.human is None and answered is None and route.small_talk is None
                    else (),
                    **extra,
                )
            )
            if progress:
                progress((i + 1) / len(asked), f"Asked {i + 1}/{len(asked)}")
        return AnswerEvaluation(
            outcomes,
            rates(outcomes),
            rates(outcomes, checked=True) if checked_by is not None else None,
            checked_by,
        )

    def _checking_model(self) -> str:
        """The generation model that would check matches in doubt; an error saying how to
        fit its map when it has none (it would not check, and the test would mislead)."""
        name = self.manager.handle("generation").name
        if name not in self.retriever.checked_calibrators:
            raise InvalidInputError(
                f"The language model in use ({name}) has no checked map, so it does not check "
                "matches; fit one with `python -m bench.cs_llm_check --write`, or test without the check."
            )
        return name

    # ------------------------------------------------------------------ inbox
    def tickets(self, status: str | None = "open") -> list[dict]:
        return self.conversations.tickets(status)

    def ticket(self, ticket_id: int) -> dict | None:
        """One ticket (open or closed) by number, or None if there is none."""
        return self.conversations.ticket(ticket_id)

    def close_ticket(self, ticket_id: int) -> None:
        self.conversations.close_ticket(ticket_id)

    def unanswered(self, limit: int = 100) -> list[dict]:
        return self.conversations.unanswered(limit)

    def feedback_stats(self) -> dict:
        return self.conversations.feedback_stats()

    # ------------------------------------------------------------------ privacy
    def export_session(self, session_id: str, actor: str | None = None) -> dict:
        """Everything stored about one customer session (its messages, tickets and ratings)
        as a JSON-able dict. Audited as ``actor`` (default: the operating-system user)."""
        return export_session(self.db, self.audit, session_id, _local_actor() if actor is None else actor)

    def erase_session(self, session_id: str, actor: str | None = None) -> dict[str, int]:
        """Erase everything stored about one session, atomically, and audit who did it.
        Returns the rows erased per table (no vectors or indexes are built from sessions)."""
        return erase_session(self.db, self.audit, session_id, _local_actor() if actor is None else actor)

    def apply_retention(self, now: float | None = None) -> dict[str, int] | None:
        """Delete conversations, tickets and ratings older than ``privacy.retention_days``
        (None when no limit is set). Runs by itself at start and daily."""
        if not self.retention_days:
            return None
        return purge_before(self.db, self.audit, cutoff(self.retention_days, now))

    def audit_log(self, limit: int = 100, session_id: str | None = None) -> list[dict]:
        """Exports, erasures and retention runs, newest first (never the erased content)."""
        return self.audit.entries(limit, subject=(session_id or "").strip() or None)


def _local_actor() -> str:
    """Who acts when the Python API is called without an actor: the operating-system user."""
    try:
        return f"local user {getpass.getuser()}"
    except (KeyError, OSError):  # no user name in this container
        return "python api"


def _start_retention(bot: CustomerServiceBot) -> DailyJob:
    # The timer holds the bot weakly: a bot that is dropped is not kept alive by its
    # schedule, and the job ends on its next run.
    ref = weakref.ref(bot)

    def run() -> bool | dict | None:
        current = ref()
        return False if current is None else current.apply_retention()

    return DailyJob("customer-service-retention", run).start()


def _check_threshold(value: float) -> None:
    if not isinstance(value, (int, float)) or not 0.0 <= float(value) <= 1.0:
        raise InvalidInputError("The confidence threshold is a probability between 0 and 1.")


def _join_en(items: list[str]) -> str:
    items = [i.lower() for i in items]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text().strip() or None
    except OSError:
        return None


def company_from_filename(name: str) -> str:
    """A company name guessed from an FAQ file name: "velo_bikes-faq.csv" -> "Velo Bikes"."""
    stem = Path(name).stem
    stem = re.sub(r"(?i)[\s_.-]*(faq|faqs|kb|knowledge[\s_-]*base|help|support)[\s_.-]*", " ", stem)
    words = [w for w in re.split(r"[\s_.-]+", stem) if w]
    if not words:
        return "our company"
    return " ".join(w if not w.isascii() or not w.islower() else w.capitalize() for w in words)[:100]


INTENT_EMBEDDING_FILE = "embedding_model.txt"

__all__ = ["KNOWLEDGE_BASES", "CustomerServiceBot", "FaqEntry", "Reply", "Source"]
