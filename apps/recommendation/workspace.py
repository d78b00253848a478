"""One page visitor's working state: the data, the compared models and the serving model.

The page keeps a ``Workspace`` in ``gr.State``; each method is one user action
and returns plain data (DataFrames, dicts) that the UI only has to display.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from core.errors import InvalidInputError

from .api import Recommendation, Recommender
from .columns import NONE, ColumnMapping, guess_mapping
from .data import item_text, load_interactions, load_items, load_movielens_100k, read_header
from .experiment import ModelResult, compare_models, results_table
from .explain import Reason, TextEvidence, WhyNot
from .text_model import choose_text_model

Progress = Callable[[float, str], None]
# Dropdowns list at most this many items (the most popular); any id can still be typed.
MAX_DROPDOWN_ITEMS = 3000


class Workspace:
    """Data and models of one session of the page."""

    def __init__(self, manager=None) -> None:
        self.manager = manager
        self.interactions: pd.DataFrame | None = None
        self.items: pd.DataFrame | None = None
        self.source = ""
        self.results: list[ModelResult] = []
        self.k = 10
        self.serving: dict[str, Recommender] = {}
        self.columns = ""  # which file column plays which role, for the summary

    # ------------------------------------------------------------------ data
    def load_demo(self) -> dict:
        """MovieLens-100k from the installed recbole wheel."""
        self.interactions, self.items = load_movielens_100k()
        self.source = "MovieLens-100k"
        self.columns = ""
        return self._reset()

    def load_files(self, interactions_path: str | Path | None, items_path: str | Path | None,
                   drop_duplicates: bool = False, mapping: ColumnMapping | None = None) -> dict:
        """Uploaded interactions (required) and item metadata (optional).

        ``mapping`` says which column is which; guessed from the header when ``None``.
        """
        if not interactions_path:
            raise InvalidInputError("Upload an interactions file (CSV or Parquet) first.")
        mapping = mapping or guess_mapping(read_header(interactions_path))
        inter = load_interactions(interactions_path, mapping=mapping, drop_duplicates=drop_duplicates)
        items = load_items(items_path) if items_path else None
        self.interactions, self.items = inter, items
        self.source = Path(str(interactions_path)).name
        self.columns = ", ".join(f"{role} = {column}" for role, column in mapping.roles().items())
        return self._reset()

    @staticmethod
    def column_choices(interactions_path: str | Path | None) -> dict[str, tuple[list[str], str]]:
        """Per role, the dropdown's choices (the file's columns) and its guessed value.

        Optional roles offer ``NONE``; with no file, every role is empty.
        """
        header = read_header(interactions_path) if interactions_path else []
        guess = guess_mapping(header)
        out = {}
        for role in ("user", "item", "rating", "timestamp", "event"):
            required = role in ("user", "item")
            choices = header if required else [NONE, *header]
            value = getattr(guess, role) or (None if required or not header else NONE)
            out[role] = (choices, value)
        return out

    def _reset(self) -> dict:
        self.results, self.serving = [], {}
        return self.summary()

    def require_data(self) -> pd.DataFrame:
        if self.interactions is None:
            raise InvalidInputError("Load the demo data or upload interactions first (Data tab).")
        return self.interactions

    def summary(self) -> dict:
        df = self.require_data()
        n_u, n_i = df["user_id"].nunique(), df["item_id"].nunique()
        return {
            "source": self.source,
            "interactions": len(df),
            "users": n_u,
            "items": n_i,
            "density": len(df) / max(1, n_u * n_i),
            "has_rating": "rating" in df,
            "has_timestamp": "timestamp" in df,
            "items_with_metadata": 0 if self.items is None else len(self.items),
            "columns": self.columns,
            # What the hybrid model will read item text with (multilingual for Chinese titles).
            "text_encoder": None
            if self.items is None
            else choose_text_model("auto", item_text(self.items).values()),
        }

    # ------------------------------------------------------------------ training
    def train(self, models: list[str], protocol: str, k: int, progress: Progress | None = None) -> pd.DataFrame:
        """Compare models on one split; then retrain the best on all data for serving."""
        df = self.require_data()
        self.k = int(k)
        self.results = compare_models(
            df, self.items, models, protocol=protocol, k=self.k, progress=progress, manager=self.manager
        )
        self.serving = {}
        self.serve(self.best_model(), progress)
        return results_table(self.results, self.k)

    def best_model(self) -> str:
        if not self.results:
            raise InvalidInputError("Train at least one model first (Train & evaluate tab).")
        return max(self.results, key=lambda r: r.metrics[f"ndcg@{self.k}"]).model

    def trained_models(self) -> list[str]:
        return [r.model for r in self.results]

    def serve(self, model: str | None = None, progress: Progress | None = None) -> Recommender:
        """The model retrained on all interactions (trained once, then cached)."""
        model = model or self.best_model()
        if model not in self.serving:
            result = next((r for r in self.results if r.model == model), None)
            if result is None:
                raise InvalidInputError(f"Model {model!r} was not trained; train it first.")
            if progress:
                progress(0.99, f"retraining {model} on all interactions for serving")
            self.serving[model] = Recommender(model, manager=self.manager, **result.params).fit(
                self.require_data(), self.items
            )
        return self.serving[model]

    def why_not(self, user_id: str | None, item_id: str | None, k: int, model: str | None = None,
                progress: Progress | None = None, translate: Callable[[str], str] | None = None) -> str:
        """The page's "why not item Y?" answer for a user, as HTML (see ``why_not_html``;
        ``translate`` shows its sentences in the page's language)."""
        user_id, item_id = str(user_id or "").strip(), str(item_id or "").strip()
        if not user_id:
            raise InvalidInputError("Choose a user first.")
        if not item_id:
            raise InvalidInputError("Choose the item to ask about.")
        answer = self.serve(model, progress).why_not(user_id, item_id, k=int(k))
        return why_not_html(answer, translate or _same)

    def loss_curves(self) -> pd.DataFrame:
        rows = [
            {"epoch": e + 1, "loss": loss, "model": r.model}
            for r in self.results
            for e, loss in enumerate(r.losses)
        ]
        return pd.DataFrame(rows, columns=["epoch", "loss", "model"])

    def metric_chart(self) -> pd.DataFrame:
        rows = [
            {"model": r.model, "metric": m, "value": r.metrics[f"{m}@{self.k}"]}
            for r in self.results
            for m in ("ndcg", "recall", "mrr", "hit", "coverage")
        ]
        return pd.DataFrame(rows, columns=["model", "metric", "value"])

    # ------------------------------------------------------------------ serving
    def user_choices(self, limit: int = MAX_DROPDOWN_ITEMS) -> list[str]:
        if self.interactions is None:
            return []
        counts = self.interactions["user_id"].value_counts()
        return sorted(counts.index[:limit], key=_natural)

    def item_choices(self, limit: int = MAX_DROPDOWN_ITEMS) -> list[tuple[str, str]]:
        """(label, id) pairs of the most popular items, labelled with their titles."""
        if self.interactions is None:
            return []
        ids = list(self.interactions["item_id"].value_counts().index[:limit])
        titles = {} if self.items is None else dict(zip(self.items["item_id"], self.items["title"], strict=True))
        return [(f"{titles.get(i) or i} [{i}]", i) for i in ids]

    def user_history(self, user_id: str, n: int = 10) -> pd.DataFrame:
        df = self.require_data()
        rows = df[df["user_id"] == str(user_id).strip()]
        if "timestamp" in rows:
            rows = rows.sort_values("timestamp", ascending=False)
        titles = {} if self.items is None else dict(zip(self.items["item_id"], self.items["title"], strict=True))
        out = pd.DataFrame({"item_id": rows["item_id"].head(n)})
        out.insert(0, "title", [titles.get(i) or i for i in out["item_id"]])
        if "rating" in rows:
            out["rating"] = rows["rating"].head(n).to_numpy()
        return out


RECOMMENDATION_COLUMNS = ["rank", "title", "item_id", "score", "reason", "strength", "also because"]
TEXT_COLUMN = "text that mattered"


def recommendations_table(recs: list[Recommendation]) -> pd.DataFrame:
    """What the page shows for a list of recommendations: reasons with their strength.

    The "text that mattered" column appears when the hybrid model explained item text.
    """
    columns = RECOMMENDATION_COLUMNS + ([TEXT_COLUMN] if any(r.text_evidence for r in recs) else [])
    rows = []
    for n, r in enumerate(recs):
        row = {"rank": n + 1, "title": r.title, "item_id": r.item_id, "score": round(r.score, 4),
               "reason": r.reason, "strength": strength_text(r.reasons[0]) if r.reasons else "",
               "also because": "; ".join(f"{x.title} ({_short_strength(x)})" for x in r.reasons[1:])}
        if TEXT_COLUMN in columns:
            row[TEXT_COLUMN] = evidence_text(r.text_evidence)
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)


def strength_text(reason: Reason) -> str:
    """A reason's strength for a table cell: its share of the score and the similarity."""
    if reason.share is not None:
        return f"{_percent(reason.share)} of score · similarity {reason.similarity:.3g}"
    return f"similarity {reason.similarity:.3g}"


def _short_strength(reason: Reason) -> str:
    return f"{_percent(reason.share)} of score" if reason.share is not None else f"similarity {reason.similarity:.3g}"


def _percent(x: float) -> str:
    return f"{x:.0%}" if x >= 0.095 else f"{x:.1%}"  # one decimal below 10%: 0.8%, 4.2%, 31%


def evidence_text(evidence: tuple[TextEvidence, ...], translate: Callable[[str], str] | None = None) -> str:
    """Words and how much of the match each carries: ``Comedy −31%, Romance −12%``."""
    t = translate or _same
    return ", ".join(t(f"{e.word} (−{_percent(e.weight)} without it)") for e in evidence)


def _same(text: str) -> str:
    return text


def why_not_html(result: WhyNot, translate: Callable[[str], str] = _same) -> str:
    """The why-not answer as HTML: every text from the data is escaped. ``translate`` maps each
    finished English sentence or label to the page's language (the page passes its own)."""
    esc, t = html.escape, translate
    parts = [f'<div id="rec-why-verdict"><p><strong>{esc(t(result.summary()))}</strong></p>']
    if not result.seen and result.score is not None and result.cutoff is not None:
        parts.append(
            f'<table class="rec-why-facts"><tr><th>{t("rank")}</th><th>{t("score")}</th>'
            f"<th>{t(f'top-{result.k} cut-off')}</th><th>{t(f'in top {result.k}')}</th></tr>"
            f"<tr><td>{result.rank:,} / {result.candidates:,}</td><td>{result.score:.4g}</td>"
            f"<td>{result.cutoff:.4g}</td><td>{t('yes' if result.in_top_k else 'no')}</td></tr></table>"
        )
    if result.reasons:
        parts.append("<p>" + t("Nearest reasons in the user's history:") + "</p><ul>")
        for x in result.reasons:
            fraction = x.share if x.share is not None else x.similarity
            strength = _short_strength(x) + ("" if x.share is None else f", similarity {x.similarity:.3g}")
            parts.append(
                f'<li class="rec-why-reason">{t(f"Because they liked <strong>{esc(x.title)}</strong>")} '
                f"[{esc(x.item_id)}]: {esc(t(strength))}"
                + f'<div style="background:#e5e7eb;width:240px;height:10px;border-radius:3px">'
                f'<div style="background:#f97316;width:{min(max(fraction, 0.0), 1.0) * 100:.1f}%;'
                'height:10px;border-radius:3px"></div></div></li>'
            )
        parts.append("</ul>")
        if any(x.share is not None for x in result.reasons):
            parts.append("<p><small>" + t(
                "Share of score: the part of the item's score this liked item adds; the model "
                "adds up a part from every item the user liked, so with a long history each is small."
            ) + "</small></p>")
    elif not result.seen:
        parts.append("<p>" + t(
            "No item in the user's history points to it (the model's similarity is not positive)."
        ) + "</p>")
    if result.text_evidence:
        evidence = esc(evidence_text(result.text_evidence, t))
        parts.append("<p>" + t(f"Text that matters in its match: {evidence}.") + "</p>")
    parts.append("</div>")
    return "".join(parts)


def _natural(value: str):
    return (0, int(value), "") if value.isdigit() else (1, 0, value)
