"""Parse FAQ files (CSV, JSON, Markdown) into validated entries.

Every problem is reported with where it is (row number, entry number, heading),
and nothing is stored unless the whole file parses: a bad file changes nothing.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import InvalidInputError
from core.files import LIMIT_SETTING, check_file_size
from core.settings import Limits

# Limits on one knowledge base entry and one import (module constants, see the report):
MAX_QUESTION_CHARS = 500  # a FAQ question is a sentence or two
MAX_ALTERNATIVES = 8  # other phrasings of the question; each gets its own vector
MAX_ENTRIES_PER_IMPORT = 5_000
MAX_KB_ENTRIES = 20_000  # flat inner-product search stays well under 10 ms at this size
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
SUPPORTED = (".csv", ".json", ".md", ".markdown")


@dataclass
class FaqEntry:
    """One knowledge base entry."""

    id: str
    question: str
    answer: str
    category: str = ""
    alternatives: list[str] = field(default_factory=list)

    @property
    def phrasings(self) -> list[str]:
        """The question and its alternative phrasings, in that order."""
        return [self.question, *self.alternatives]


def clean_text(value: object, what: str, where: str, max_chars: int) -> str:
    """A stripped, NFC-normalised string, or a clear error saying which field is wrong."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        else:
            raise InvalidInputError(f"{where}: {what} must be text, got {type(value).__name__}.")
    text = unicodedata.normalize("NFC", value).replace("\x00", "").strip()
    if len(text) > max_chars:
        raise InvalidInputError(
            f"{where}: {what} is {len(text)} characters; the limit is {max_chars}."
        )
    return text


def make_entry(
    raw_id: object,
    question: object,
    answer: object,
    category: object,
    where: str,
    alternatives: object = None,
    *,
    limits: Limits,
) -> FaqEntry:
    """Validate one entry's fields; an id is derived from the question when absent.

    ``alternatives`` are other ways customers ask the same question: a list, or
    one string with the phrasings separated by ``|``.
    """
    limit = limits.max_text_chars
    q = clean_text(question, "the question", where, MAX_QUESTION_CHARS)
    a = clean_text(answer, "the answer", where, limit)
    c = clean_text(category, "the category", where, 100)
    if not q:
        raise InvalidInputError(f"{where}: the question is empty.")
    if not a:
        raise InvalidInputError(f"{where}: the answer is empty.")
    entry_id = clean_text(raw_id, "the id", where, 64)
    if not entry_id:
        entry_id = "faq-" + hashlib.sha1(q.lower().encode()).hexdigest()[:10]
    elif not ID_PATTERN.match(entry_id):
        raise InvalidInputError(
            f"{where}: id {entry_id!r} may only use letters, digits, '_', '-', '.', ':' (up to 64)."
        )
    if alternatives is None or alternatives == "":
        alts_raw: list = []
    elif isinstance(alternatives, str):
        alts_raw = alternatives.split("|")
    elif isinstance(alternatives, list):
        alts_raw = alternatives
    else:
        raise InvalidInputError(f"{where}: alternatives must be a list or a '|'-separated string.")
    alts = [
        clean_text(alt, "an alternative question", where, MAX_QUESTION_CHARS) for alt in alts_raw
    ]
    alts = [alt for alt in dict.fromkeys(alts) if alt and alt != q]
    if len(alts) > MAX_ALTERNATIVES:
        raise InvalidInputError(
            f"{where}: at most {MAX_ALTERNATIVES} alternative questions per entry."
        )
    return FaqEntry(entry_id, q, a, c, alts)


def decode_upload(data: bytes, name: str, limits: Limits) -> str:
    """UTF-8 text (a BOM is accepted); anything else is refused with the byte offset."""
    limit = limits.max_upload_mb * 1024 * 1024
    if len(data) > limit:
        raise InvalidInputError(
            f"{name} is {len(data) / 2**20:.1f} MB; the limit is {limit // (1024 * 1024)} MB "
            f"(setting {LIMIT_SETTING})."
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(
            f"{name} is not UTF-8 text (invalid byte at offset {exc.start}). "
            "Save it as UTF-8 (in Excel: 'CSV UTF-8') and upload it again."
        ) from None


def parse_faq(data: bytes, name: str, limits: Limits) -> list[FaqEntry]:
    """Entries from the bytes of a .csv, .json or .md file named ``name``.

    ``limits`` are the serving settings' (``manager.settings.limits``): upload size and
    answer length.
    """
    suffix = Path(name).suffix.lower()
    if suffix not in SUPPORTED:
        raise InvalidInputError(
            f"Unsupported file type {suffix or '(none)'}; use .csv, .json or .md."
        )
    text = decode_upload(data, Path(name).name, limits)
    if not text.strip():
        raise InvalidInputError(f"{Path(name).name} is empty.")
    if suffix == ".csv":
        entries = _parse_csv(text, limits)
    elif suffix == ".json":
        entries = _parse_json(text, limits)
    else:
        entries = _parse_markdown(text, limits)
    if not entries:
        raise InvalidInputError(f"{Path(name).name} contains no FAQ entries.")
    if len(entries) > MAX_ENTRIES_PER_IMPORT:
        raise InvalidInputError(
            f"At most {MAX_ENTRIES_PER_IMPORT} entries can be imported at once."
        )
    _check_unique(entries)
    return entries


def read_faq_file(path: str | Path, limits: Limits) -> list[FaqEntry]:
    """Entries from a file on disk."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"No FAQ file at {path}.")
    # from its size on disk, before reading it
    check_file_size(path, limits.max_upload_mb, what="FAQ file")
    return parse_faq(path.read_bytes(), path.name, limits)


def _check_unique(entries: list[FaqEntry]) -> None:
    seen: dict[str, int] = {}
    for n, entry in enumerate(entries, start=1):
        if entry.id in seen:
            raise InvalidInputError(
                f"Duplicate id {entry.id!r}: entries {seen[entry.id]} and {n} share it. Ids must be unique."
            )
        seen[entry.id] = n


def _parse_csv(text: str, limits: Limits) -> list[FaqEntry]:
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error as exc:
        raise InvalidInputError(
            f"Malformed CSV near row {exc.args and _csv_line(exc)}: {exc}"
        ) from None
    header = [h.strip().lower() for h in rows[0]]
    missing = [c for c in ("question", "answer") if c not in header]
    if missing:
        raise InvalidInputError(
            f"The CSV is missing the column(s) {', '.join(missing)}; it needs question and answer "
            f"(id and category are optional). Found: {', '.join(header) or 'nothing'}."
        )
    col = {
        name: header.index(name)
        for name in ("id", "question", "answer", "category", "alternatives")
        if name in header
    }
    entries = []
    for n, row in enumerate(rows[1:], start=2):  # row numbers as a spreadsheet shows them
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise InvalidInputError(
                f"Malformed CSV: row {n} has {len(row)} fields but the header has {len(header)}. "
                "Quote answers that contain commas."
            )
        entries.append(
            make_entry(
                row[col["id"]] if "id" in col else "",
                row[col["question"]],
                row[col["answer"]],
                row[col["category"]] if "category" in col else "",
                f"Row {n}",
                row[col["alternatives"]] if "alternatives" in col else None,
                limits=limits,
            )
        )
    return entries


def _csv_line(exc: csv.Error) -> str:
    match = re.search(r"line (\d+)", str(exc))
    return match.group(1) if match else "?"


def _parse_json(text: str, limits: Limits) -> list[FaqEntry]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(
            f"Malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}."
        ) from None
    except RecursionError:  # "[[[[...]]]]" nested deeper than the parser's stack
        raise InvalidInputError("The JSON is nested too deeply to be an FAQ file.") from None
    if isinstance(data, dict):
        data = data.get("entries", data.get("faq"))
    if not isinstance(data, list):
        raise InvalidInputError('The JSON must be a list of entries or {"entries": [...]}.')
    entries = []
    for n, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            raise InvalidInputError(f"Entry {n} is not an object with question and answer.")
        keys = {str(k).lower(): v for k, v in item.items()}
        missing = [c for c in ("question", "answer") if c not in keys]
        if missing:
            raise InvalidInputError(f"Entry {n} is missing {', '.join(missing)}.")
        entries.append(
            make_entry(
                keys.get("id"),
                keys["question"],
                keys["answer"],
                keys.get("category"),
                f"Entry {n}",
                keys.get("alternatives"),
                limits=limits,
            )
        )
    return entries


_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*$")
_ANCHOR = re.compile(r"\s*\{#([^}]*)\}\s*$")
_ALSO = re.compile(r"^\s*(?:also asked|alternatives?)\s*:\s*(.*)$", re.IGNORECASE)


def _parse_markdown(text: str, limits: Limits) -> list[FaqEntry]:
    """``# Category`` sections with ``## Question {#optional-id}`` headings; the body is the
    answer, except a line ``Also asked: phrasing | phrasing`` giving alternative questions."""
    entries: list[FaqEntry] = []
    category = ""
    current: tuple[str, str, int] | None = None  # (id, question, line)
    body: list[str] = []
    also: list[str] = []

    def flush() -> None:
        if current is not None:
            entry_id, question, line = current
            entries.append(
                make_entry(
                    entry_id,
                    question,
                    "\n".join(body).strip(),
                    category,
                    f"Line {line}",
                    also or None,
                    limits=limits,
                )
            )

    for n, line in enumerate(text.splitlines(), start=1):
        match = _HEADING.match(line)
        if match and len(match.group(1)) == 1:
            flush()
            current, body, also, category = None, [], [], match.group(2)
        elif match:
            flush()
            heading = match.group(2)
            anchor = _ANCHOR.search(heading)
            entry_id = anchor.group(1) if anchor else ""
            current, body, also = (entry_id, _ANCHOR.sub("", heading), n), [], []
        elif current is not None and _ALSO.match(line):
            also += _ALSO.match(line).group(1).split("|")  # type: ignore[union-attr]
        elif current is not None:
            body.append(line)
    flush()
    return entries
