"""Loading and validating interactions and item metadata, and the MovieLens-100k demo.

Interactions are who-bought or who-watched-what: ``user_id``, ``item_id`` and,
optionally, ``rating`` and ``timestamp``, under whatever names the file uses (a
``ColumnMapping``, guessed from common names when not given: see columns.py). Item
metadata is ``item_id`` with any of ``title``, ``text`` and ``tags``. Every check raises ``InvalidInputError`` with a
message that says what is wrong and where, so a page can show it as is.

Ids are kept as strings everywhere: ``42`` and ``"42"`` name the same user.
"""

from __future__ import annotations

import csv
import importlib.util
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from core.errors import InvalidInputError
from core.files import check_file_size

from .columns import ColumnMapping, apply_mapping, collapse_events, guess_mapping, item_columns

REQUIRED_COLUMNS = ("user_id", "item_id")
OPTIONAL_COLUMNS = ("rating", "timestamp")
ITEM_TEXT_COLUMNS = ("title", "text", "tags")

# Upper bound on interaction rows accepted in one dataset: 20M rows of four columns
# is ~1 GB in pandas, beyond what one shared process should hold for a single app.
MAX_INTERACTIONS = 20_000_000

def _read_table(source: pd.DataFrame | str | Path | bytes, what: str) -> pd.DataFrame:
    """Read a DataFrame, a CSV/TSV/Parquet path or raw bytes into a DataFrame."""
    if isinstance(source, pd.DataFrame):
        return source.copy()
    if isinstance(source, bytes):
        if not source.strip():
            raise InvalidInputError(f"The {what} file is empty.")
        if source[:4] == b"PAR1":
            return _read_parquet(io.BytesIO(source), what)
        return _read_csv(io.BytesIO(source), what, sep=None)
    if not isinstance(source, str | Path):
        raise InvalidInputError(
            f"{what.capitalize()} must be a DataFrame or a path to a CSV or Parquet file, "
            f"not {type(source).__name__}."
        )
    path = Path(source)
    if not path.is_file():
        raise InvalidInputError(f"The {what} file {path.name!r} does not exist.")
    size = check_file_size(path, what=f"{what} file")  # from its size, before reading
    if size == 0:
        raise InvalidInputError(f"The {what} file {path.name!r} is empty.")
    with path.open("rb") as fh:
        magic = fh.read(4)
    if path.suffix.lower() in (".parquet", ".pq") or magic == b"PAR1":
        return _read_parquet(path, what)
    sep = "\t" if path.suffix.lower() in (".tsv", ".tab") else None
    return _read_csv(path, what, sep=sep)


def _read_csv(handle, what: str, sep: str | None) -> pd.DataFrame:
    try:
        # sep=None sniffs commas, tabs or semicolons; ids are read as text so that
        # "007" and "7" stay different items. utf-8-sig: Excel starts its CSVs with a BOM,
        # which would otherwise hide the first column's name.
        return pd.read_csv(handle, sep=sep, engine="python", dtype=str, encoding="utf-8-sig")
    except pd.errors.EmptyDataError as exc:
        raise InvalidInputError(f"The {what} file is empty.") from exc
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"The {what} file is not UTF-8 text (CSV) or Parquet.") from exc
    except (pd.errors.ParserError, csv.Error) as exc:
        raise InvalidInputError(f"The {what} file is not a readable CSV: {exc}") from exc


def _read_parquet(handle, what: str) -> pd.DataFrame:
    try:
        return pd.read_parquet(handle)
    except ImportError as exc:
        raise InvalidInputError("Reading Parquet needs the 'pyarrow' package.") from exc
    except Exception as exc:  # pyarrow raises several unrelated types for corrupt files
        raise InvalidInputError(f"The {what} file is not a readable Parquet file: {exc}") from exc


def _normalise_columns(df: pd.DataFrame) -> pd.DataFrame:
    # Accept "User ID", "userId", "item_id:token" (RecBole atomic files) and the like.
    renamed = {}
    for col in df.columns:
        key = str(col).split(":")[0].strip().lower().replace(" ", "_").replace("-", "_")
        key = {"userid": "user_id", "itemid": "item_id", "user": "user_id", "item": "item_id"}.get(
            key, key
        )
        renamed[col] = key
    return df.rename(columns=renamed)


def _ids(series: pd.Series, name: str) -> pd.Series:
    values = series.astype("string").str.strip()
    missing = values.isna() | (values == "")
    if missing.any():
        rows = list(np.flatnonzero(missing.to_numpy())[:5] + 1)
        raise InvalidInputError(f"{int(missing.sum())} rows have no {name} (data rows {rows}).")
    return values.astype(str)


def _numbers(series: pd.Series, name: str) -> pd.Series:
    values = pd.to_numeric(series, errors="coerce")
    bad = values.isna() & series.notna() & (series.astype("string").str.strip() != "")
    if bad.any():
        rows = np.flatnonzero(bad.to_numpy())[:5]
        examples = ", ".join(f"row {r + 1}: {series.iloc[r]!r}" for r in rows)
        raise InvalidInputError(
            f"{int(bad.sum())} values in column '{name}' are not numbers ({examples})."
        )
    if values.isna().any():
        rows = list(np.flatnonzero(values.isna().to_numpy())[:5] + 1)
        raise InvalidInputError(
            f"{int(values.isna().sum())} rows have an empty '{name}' (data rows {rows})."
        )
    if not np.isfinite(values.to_numpy(dtype=float)).all():
        raise InvalidInputError(f"Column '{name}' contains infinite values.")
    return values.astype(np.float64)


CANONICAL_ID = {"user": "user_id", "item": "item_id"}


def _timestamps(series: pd.Series, name: str = "timestamp") -> pd.Series:
    """Numbers (epoch seconds) or dates; returned as float seconds."""
    numeric = pd.to_numeric(series, errors="coerce")
    if numeric.notna().all():
        return numeric.astype(np.float64)
    try:
        parsed = pd.to_datetime(series, errors="raise", utc=True, format="mixed")
    except (ValueError, TypeError) as exc:
        raise InvalidInputError(
            f"Column '{name}' must hold numbers (epoch seconds) or dates: {exc}"
        ) from exc
    if parsed.isna().any():
        raise InvalidInputError(f"{int(parsed.isna().sum())} rows have an empty '{name}'.")
    return (parsed - pd.Timestamp("1970-01-01", tz="UTC")).dt.total_seconds().astype(np.float64)


def read_header(source: pd.DataFrame | str | Path | bytes, what: str = "interactions") -> list[str]:
    """The column names of a table (for choosing the column mapping before loading)."""
    if isinstance(source, str | Path) and Path(source).suffix.lower() in (".csv", ".tsv", ".tab", ".txt"):
        path = Path(source)
        if path.is_file():
            check_file_size(path, what=f"{what} file")
            sep = "\t" if path.suffix.lower() in (".tsv", ".tab") else None
            with path.open("rb") as fh:
                head = b"".join(fh.readline() for _ in range(20))
            return [str(c) for c in _read_csv(io.BytesIO(head), what, sep=sep).columns]
    return [str(c) for c in _read_table(source, what).columns]


def load_interactions(
    source: pd.DataFrame | str | Path | bytes,
    *,
    mapping: ColumnMapping | None = None,
    drop_duplicates: bool = False,
    min_rating: float | None = None,
) -> pd.DataFrame:
    """Read and validate interactions.

    Args:
        source: a DataFrame, a path to a CSV/TSV/Parquet file, or the file's bytes.
        mapping: which column is the user, item, rating, timestamp or event; guessed
            from the header when not given (``columns.guess_mapping``). With an event
            column, events become weights in ``rating`` and each (user, item) pair one row.
        drop_duplicates: exact duplicate rows are an error unless this is True, in
            which case they are dropped. The same (user, item) pair at different
            times is not a duplicate; it counts as one interaction for training.
        min_rating: keep only rows whose rating is at least this (needs ``rating``).

    Returns:
        A DataFrame with string ``user_id``/``item_id`` and float ``rating`` /
        ``timestamp`` where given, in the original row order.
    """
    df = _read_table(source, "interactions")
    if df.empty and len(df.columns) == 0:
        raise InvalidInputError("The interactions file is empty.")
    if mapping is None:
        mapping = guess_mapping(df.columns)
        missing = [CANONICAL_ID[r] for r in ("user", "item") if getattr(mapping, r) is None]
        if missing:
            raise InvalidInputError(
                f"Interactions are missing the column(s) {', '.join(missing)}; found "
                f"{', '.join(map(str, df.columns)) or 'none'}. Expected user_id, item_id "
                "and optionally rating and timestamp (or names like userId, customer_id, "
                "product_id, sku), or choose the columns in the column mapping."
            )
    if df.empty:
        raise InvalidInputError("The interactions file has a header but no rows.")
    if len(df) > MAX_INTERACTIONS:
        raise InvalidInputError(
            f"{len(df):,} interactions is more than the limit of {MAX_INTERACTIONS:,}."
        )
    mapped = mapping.roles()
    df = apply_mapping(df, mapping)
    df["user_id"] = _ids(df["user_id"], "user_id")
    df["item_id"] = _ids(df["item_id"], "item_id")
    if "rating" in df and not mapping.event:
        df["rating"] = _numbers(df["rating"], mapped.get("rating", "rating"))
    if "timestamp" in df:
        df["timestamp"] = _timestamps(df["timestamp"], mapped.get("timestamp", "timestamp"))
    if mapping.event:
        df = collapse_events(df)
    dupes = df.duplicated()
    if dupes.any():
        if not drop_duplicates:
            first = df[dupes].iloc[0]
            raise InvalidInputError(
                f"{int(dupes.sum())} rows are exact duplicates of earlier rows (first: user "
                f"{first.user_id!r}, item {first.item_id!r}). Remove them, or pass "
                "drop_duplicates=True to drop them."
            )
        df = df[~dupes].reset_index(drop=True)
    if min_rating is not None:
        if "rating" not in df:
            raise InvalidInputError("min_rating needs a 'rating' column.")
        df = df[df["rating"] >= min_rating].reset_index(drop=True)
        if df.empty:
            raise InvalidInputError(f"No interaction has a rating of at least {min_rating}.")
    return df


def load_items(source: pd.DataFrame | str | Path | bytes) -> pd.DataFrame:
    """Read and validate item metadata: ``item_id`` plus any of title, text, tags.

    Tags may be a list per row or a string; they are joined into one string.
    Returns one row per item (string columns, empty string where absent).
    """
    df = _read_table(source, "item metadata")
    # Standard names first; then common ones (movieId, product_id, name, genres...).
    df = _normalise_columns(df)
    if "item_id" not in df.columns or not set(ITEM_TEXT_COLUMNS) & set(df.columns):
        renames = {k: v for k, v in item_columns(df.columns).items() if v not in df.columns}
        df = df.rename(columns=renames)
    if "item_id" not in df.columns:
        raise InvalidInputError(
            "Item metadata needs an 'item_id' column; found "
            f"{', '.join(map(str, df.columns)) or 'none'}."
        )
    present = [c for c in ITEM_TEXT_COLUMNS if c in df.columns]
    if not present:
        raise InvalidInputError(
            "Item metadata needs at least one of the columns title, text or tags."
        )
    if df.empty:
        raise InvalidInputError("The item metadata file has a header but no rows.")
    out = pd.DataFrame({"item_id": _ids(df["item_id"], "item_id in item metadata")})
    for col in ITEM_TEXT_COLUMNS:
        if col not in df:
            out[col] = ""
            continue
        values = df[col]
        if col == "tags":
            values = values.map(lambda v: " ".join(map(str, v)) if isinstance(v, list | tuple | np.ndarray) else v)
        out[col] = values.astype("string").fillna("").str.strip().astype(str)
    dupes = out["item_id"].duplicated()
    if dupes.any():
        raise InvalidInputError(
            f"{int(dupes.sum())} items appear more than once in the item metadata "
            f"(first: {out['item_id'][dupes].iloc[0]!r})."
        )
    return out.reset_index(drop=True)


def item_text(items: pd.DataFrame) -> dict[str, str]:
    """One descriptive string per item for the text encoder: title. text. Tags: ..."""
    texts = {}
    for row in items.itertuples(index=False):
        parts = [p for p in (row.title, row.text) if p]
        if row.tags:
            parts.append(f"Tags: {row.tags}")
        texts[row.item_id] = ". ".join(parts)
    return texts


# ---------------------------------------------------------------- MovieLens-100k


def movielens_dir() -> Path:
    """Folder of the ml-100k atomic files inside the installed recbole wheel.

    The files are read where pip put them (GroupLens forbids redistribution), and
    recbole itself is never imported: we only need its data folder.
    """
    spec = importlib.util.find_spec("recbole")
    if spec is None or not spec.submodule_search_locations:
        raise InvalidInputError(
            "The MovieLens-100k demo needs the 'recbole' wheel: pip install --no-deps recbole==1.2.1"
        )
    folder = Path(spec.submodule_search_locations[0]) / "dataset_example" / "ml-100k"
    if not (folder / "ml-100k.inter").is_file():
        raise InvalidInputError(f"MovieLens-100k files are missing from {folder}.")
    return folder


def load_movielens_100k() -> tuple[pd.DataFrame, pd.DataFrame]:
    """MovieLens-100k: 100,000 ratings of 1,682 movies by 943 users, and movie metadata.

    Returns (interactions, items); items have the title with its year, and the
    genres as tags.
    """
    folder = movielens_dir()
    inter = pd.read_csv(folder / "ml-100k.inter", sep="\t", dtype=str)
    interactions = load_interactions(inter)
    raw = pd.read_csv(folder / "ml-100k.item", sep="\t", dtype=str, keep_default_na=False)
    raw = _normalise_columns(raw)
    year = raw["release_year"].where(raw["release_year"] != "", None)
    title = raw["movie_title"] + year.map(lambda y: f" ({y})" if isinstance(y, str) else "")
    items = pd.DataFrame(
        {"item_id": raw["item_id"], "title": title, "tags": raw["class"].str.replace(" ", ", ")}
    )
    return interactions, load_items(items)


# ---------------------------------------------------------------- indexed dataset


@dataclass
class IdMap:
    """Stable mapping between external string ids and dense row numbers."""

    ids: list[str]

    def __post_init__(self) -> None:
        self.index = {v: i for i, v in enumerate(self.ids)}

    def __len__(self) -> int:
        return len(self.ids)

    def get(self, key: object) -> int | None:
        return self.index.get(str(key).strip())

    def encode(self, values: pd.Series) -> np.ndarray:
        """Row numbers for ids; -1 for ids not in the map."""
        return values.map(self.index).fillna(-1).astype(np.int64).to_numpy()


def interaction_matrix(
    interactions: pd.DataFrame, users: IdMap, items: IdMap
) -> sp.csr_matrix:
    """Binary user x item CSR matrix of the interactions whose ids are in the maps."""
    u = users.encode(interactions["user_id"])
    i = items.encode(interactions["item_id"])
    ok = (u >= 0) & (i >= 0)
    m = sp.csr_matrix(
        (np.ones(int(ok.sum()), dtype=np.float32), (u[ok], i[ok])), shape=(len(users), len(items))
    )
    m.sum_duplicates()
    m.data[:] = 1.0  # repeated (user, item) pairs count once: implicit feedback
    return m
