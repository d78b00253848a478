"""Fine-tuning data: parse, check and split a company's examples; score what comes out.

Three formats, chosen by file extension (or given as Python rows):

- **JSONL**, one example a line: ``{"messages": [{"role": "user", ...}, {"role":
  "assistant", ...}]}`` (an optional system turn first), or ``{"prompt": ..., "response": ...}``,
  or ``{"text": ...}`` for a plain document;
- **CSV** with a header: ``prompt,response`` columns, or a single ``text`` column;
- **plain text** (``.txt``, ``.md``): documents separated by blank lines, for
  continued pre-training in a house style.

Every problem is an ``InvalidInputError`` that names the line or row.
"""

from __future__ import annotations

import csv
import io
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import InvalidInputError

Chat = list[dict[str, str]]
MIN_EXAMPLES = 4  # at least one held out, and something left to train on
MAX_EXAMPLES = 5000
MAX_EXAMPLE_CHARS = 8000
MAX_FILE_BYTES = 20 * 2**20
HELDOUT_FRACTION = 0.1
MAX_HELDOUT = 200
_ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class TrainingData:
    """Parsed examples: chats ending with the reply to learn, or documents (``[{"role": "text", ...}]``)."""

    kind: str  # "chat" or "documents"
    examples: list[Chat]

    def __len__(self) -> int:
        return len(self.examples)

    def split(self, heldout_fraction: float = HELDOUT_FRACTION, seed: int = 0) -> tuple[list[Chat], list[Chat]]:
        """(train, held-out): a seeded shuffle, at least one example on each side."""
        if not 0 < heldout_fraction < 1:
            raise InvalidInputError(f"heldout_fraction must be between 0 and 1, got {heldout_fraction}.")
        order = list(range(len(self.examples)))
        random.Random(seed).shuffle(order)
        n = min(MAX_HELDOUT, max(1, round(len(order) * heldout_fraction)))
        n = min(n, len(order) - 1)
        held = [self.examples[i] for i in sorted(order[:n])]
        train = [self.examples[i] for i in sorted(order[n:])]
        return train, held


def load_training_data(source: str | Path | bytes | list[Any], filename: str | None = None) -> TrainingData:
    """Parse examples from a file path, raw bytes (with ``filename`` for its format) or rows.

    Rows are dicts as in the JSONL format, or plain strings (documents).
    """
    if isinstance(source, list):
        return _from_rows(source, "Example")
    if isinstance(source, bytes):
        if filename is None:
            raise InvalidInputError("Give the file name with raw bytes, so the format is known.")
        raw, name = source, filename
    elif isinstance(source, str | Path):
        path = Path(source)
        if not path.is_file():
            raise InvalidInputError(f"No file at {path}.")
        if path.stat().st_size > MAX_FILE_BYTES:
            raise InvalidInputError(f"{path.name} is over {MAX_FILE_BYTES // 2**20} MB; use fewer examples.")
        raw, name = path.read_bytes(), path.name
    else:
        raise InvalidInputError(f"Training data must be a file, bytes or a list of rows, got {type(source).__name__}.")
    if len(raw) > MAX_FILE_BYTES:
        raise InvalidInputError(f"{name} is over {MAX_FILE_BYTES // 2**20} MB; use fewer examples.")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"{name} is not UTF-8 text ({exc.reason} at byte {exc.start}).") from exc
    if not text.strip():
        raise InvalidInputError(f"{name} is empty.")
    suffix = Path(name).suffix.lower()
    if suffix in (".jsonl", ".json", ".ndjson"):
        return _from_rows(_jsonl_rows(text, name), "Line")
    if suffix == ".csv":
        return _from_rows(_csv_rows(text, name), "Row")
    if suffix in (".txt", ".md", ".text"):
        docs = [d.strip() for d in text.replace("\r\n", "\n").split("\n\n") if d.strip()]
        return _from_rows(docs, "Paragraph")
    raise InvalidInputError(f"{name}: use a .jsonl, .csv or .txt file (got {suffix or 'no extension'}).")


def _jsonl_rows(text: str, name: str) -> list[Any]:
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"{name}, line {number}: not valid JSON ({exc.msg}, column {exc.colno}).") from exc
    return rows


def _csv_rows(text: str, name: str) -> list[Any]:
    reader = csv.DictReader(io.StringIO(text))
    columns = [c.strip().lower() for c in reader.fieldnames or []]
    if {"prompt", "response"} <= set(columns):
        keys = ("prompt", "response")
    elif "text" in columns:
        keys = ("text",)
    else:
        raise InvalidInputError(
            f"{name}: the CSV needs the columns prompt,response (or one text column); "
            f"it has {', '.join(columns) or 'no header'}."
        )
    rows = []
    for row in reader:
        clean = {(k or "").strip().lower(): v for k, v in row.items()}
        rows.append({k: clean.get(k) or "" for k in keys})
    return rows


def _from_rows(rows: list[Any], unit: str) -> TrainingData:
    if not rows:
        raise InvalidInputError("There are no examples.")
    if len(rows) > MAX_EXAMPLES:
        raise InvalidInputError(f"{len(rows)} examples given; the limit is {MAX_EXAMPLES}.")
    parsed = [_example(row, f"{unit} {i + 1}") for i, row in enumerate(rows)]
    kinds = {kind for kind, _ in parsed}
    if len(kinds) > 1:
        raise InvalidInputError("Mix of chat examples and plain documents: use one kind per file.")
    if len(parsed) < MIN_EXAMPLES:
        raise InvalidInputError(
            f"Only {len(parsed)} examples; give at least {MIN_EXAMPLES} (some are held out to measure)."
        )
    return TrainingData(kinds.pop(), [chat for _, chat in parsed])


def _example(row: Any, where: str) -> tuple[str, Chat]:
    if isinstance(row, str):
        return "documents", [{"role": "text", "content": _text(row, where, "text")}]
    if not isinstance(row, dict):
        raise InvalidInputError(f"{where}: expected an object, got {type(row).__name__}.")
    if "messages" in row:
        return "chat", _messages(row["messages"], where)
    if "prompt" in row or "response" in row:
        prompt = _text(row.get("prompt"), where, "prompt")
        response = _text(row.get("response"), where, "response")
        return "chat", [{"role": "user", "content": prompt}, {"role": "assistant", "content": response}]
    if "text" in row:
        return "documents", [{"role": "text", "content": _text(row["text"], where, "text")}]
    raise InvalidInputError(f"{where}: give messages, prompt and response, or text; found {', '.join(map(str, row)) or 'nothing'}.")


def _messages(messages: Any, where: str) -> Chat:
    if not isinstance(messages, list) or len(messages) < 2:
        raise InvalidInputError(f"{where}: messages must be a list with a user turn and an assistant reply.")
    out = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in _ROLES:
            raise InvalidInputError(f"{where}, message {i + 1}: needs a role of {', '.join(_ROLES)}.")
        out.append({"role": m["role"], "content": _text(m.get("content"), where, f"message {i + 1}")})
    if out[-1]["role"] != "assistant":
        raise InvalidInputError(f"{where}: the last message must be the assistant's reply to learn.")
    if not any(m["role"] == "user" for m in out):
        raise InvalidInputError(f"{where}: there is no user message.")
    return out


def _text(value: Any, where: str, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(f"{where}: the {field} is empty.")
    if len(value) > MAX_EXAMPLE_CHARS:
        raise InvalidInputError(
            f"{where}: the {field} is {len(value)} characters; the limit is {MAX_EXAMPLE_CHARS}."
        )
    return value.strip()


# --------------------------------------------------------------------------- scoring
def parse_json_object(text: str) -> dict[str, Any] | None:
    """The reply as a JSON object, or None: strict, the whole reply must be the object."""
    try:
        value = json.loads(text.strip())
    except (json.JSONDecodeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def is_structured(references: list[str]) -> bool:
    """Whether every reference reply is a JSON object (then outputs are scored as JSON)."""
    return bool(references) and all(parse_json_object(r) is not None for r in references)


@dataclass(frozen=True)
class JsonScore:
    """Share of replies that are valid JSON with the reference's keys, and of fields matched exactly."""

    valid: float
    field_accuracy: float


def score_json(outputs: list[str], references: list[str]) -> JsonScore:
    """``valid``: the reply is one JSON object with exactly the reference's keys.
    ``field_accuracy``: reference fields whose value the reply gives exactly, over all fields."""
    valid = fields = matched = 0
    for out, ref in zip(outputs, references, strict=True):
        want = parse_json_object(ref) or {}
        got = parse_json_object(out)
        fields += len(want)
        if got is None:
            continue
        valid += set(got) == set(want)
        matched += sum(1 for k, v in want.items() if k in got and got[k] == v)
    n = max(len(outputs), 1)
    return JsonScore(valid / n, matched / max(fields, 1))
