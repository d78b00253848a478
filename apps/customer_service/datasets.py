"""Where the shipped example data lives: BANKING77 and the demo knowledge base."""

from __future__ import annotations

import csv
from pathlib import Path

from core.errors import InvalidInputError
from core.files import check_file_size
from core.settings import PROJECT_ROOT

DEMO_DIR = Path(__file__).parent / "demo"
DEMO_FAQ = DEMO_DIR / "faq.csv"
DEMO_FAQ_ZH = DEMO_DIR / "faq_zh.csv"  # the same demo company's help centre, written in Chinese
DEMO_INTENTS = DEMO_DIR / "intents.csv"
# BANKING77 (CC BY 4.0, Casanueva et al. 2020) sits beside the repository, not in it.
BANKING77_DIR = PROJECT_ROOT.parent / "shared" / "data" / "banking77"
# A small slice (5 utterances for each of 10 intents, from BANKING77's train split),
# shipped for tests; see demo/README.md for the attribution.
BANKING77_SLICE = DEMO_DIR / "banking77_slice.csv"


def read_labelled_csv(path: Path) -> list[tuple[str, str]]:
    """(text, intent) pairs from a CSV with ``text`` and ``category``/``intent`` columns.

    The file is refused from its size before it is read; bad encoding or quoting
    is an ``InvalidInputError`` that says what is wrong.
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"No intents CSV at {path}.")
    check_file_size(path, what="intents CSV")
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh, strict=True)
            fields = [(f or "").strip().lower() for f in reader.fieldnames or []]
            label = next((f for f in ("intent", "category", "label") if f in fields), None)
            if "text" not in fields or label is None:
                raise InvalidInputError(
                    f"{path.name} needs 'text' and 'intent' (or 'category') columns."
                )
            reader.fieldnames = fields
            pairs = []
            for n, row in enumerate(reader, start=2):
                text, intent = row.get("text"), row.get(label)
                if not isinstance(text, str) or not isinstance(intent, str):
                    raise InvalidInputError(
                        f"{path.name}: row {n} has fewer fields than the header."
                    )
                pairs.append((text, intent))
            return pairs
    except UnicodeDecodeError as exc:
        raise InvalidInputError(
            f"{path.name} is not UTF-8 text (invalid byte at offset {exc.start})."
        ) from None
    except csv.Error as exc:
        raise InvalidInputError(f"{path.name} is not a readable CSV: {exc}") from None


def banking77(split: str = "train") -> list[tuple[str, str]]:
    """BANKING77 ``train`` or ``test`` as (text, intent) pairs."""
    path = BANKING77_DIR / f"{split}.csv"
    if not path.is_file():
        raise FileNotFoundError(
            f"BANKING77 is not at {path}; it ships in ../shared/data/banking77/."
        )
    return read_labelled_csv(path)


# Labelled utterance sets the page offers, by name (``load_examples``).
EXAMPLE_SETS = ("demo", "banking77-train", "banking77-test", "upload")


def load_examples(name: str, upload: str | Path | None = None) -> list[tuple[str, str]]:
    """(text, intent) pairs of a named set: ``demo`` (the shipped Kestrel intents),
    ``banking77-train`` / ``banking77-test``, or ``upload`` (the CSV at ``upload``).

    Every failure is an ``InvalidInputError`` saying what to do.
    """
    if name == "upload":
        if not upload:
            raise InvalidInputError("Upload a CSV with text and intent columns first.")
        return read_labelled_csv(Path(upload))
    if name in ("banking77-train", "banking77-test"):
        try:
            return banking77(name.removeprefix("banking77-"))
        except FileNotFoundError:
            raise InvalidInputError(f"BANKING77 is not installed at {BANKING77_DIR}.") from None
    if name == "demo":
        return read_labelled_csv(DEMO_INTENTS)
    raise InvalidInputError(f"Unknown example set {name!r}; choose one of {', '.join(EXAMPLE_SETS)}.")
