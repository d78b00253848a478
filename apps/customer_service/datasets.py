"""Where the shipped example data lives: BANKING77 and the demo knowledge base."""

from __future__ import annotations

import csv
from pathlib import Path

from core.errors import InvalidInputError
from core.settings import PROJECT_ROOT

DEMO_DIR = Path(__file__).parent / "demo"
DEMO_FAQ = DEMO_DIR / "faq.csv"
DEMO_INTENTS = DEMO_DIR / "intents.csv"
# BANKING77 (CC BY 4.0, Casanueva et al. 2020) sits beside the repository, not in it.
BANKING77_DIR = PROJECT_ROOT.parent / "shared" / "data" / "banking77"
# A small slice (5 utterances for each of 10 intents, from BANKING77's train split),
# shipped for tests; see demo/README.md for the attribution.
BANKING77_SLICE = DEMO_DIR / "banking77_slice.csv"


def read_labelled_csv(path: Path) -> list[tuple[str, str]]:
    """(text, intent) pairs from a CSV with ``text`` and ``category``/``intent`` columns."""
    with Path(path).open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        fields = [f.strip().lower() for f in reader.fieldnames or []]
        label = next((f for f in ("intent", "category", "label") if f in fields), None)
        if "text" not in fields or label is None:
            raise InvalidInputError(
                f"{path.name} needs 'text' and 'intent' (or 'category') columns."
            )
        reader.fieldnames = fields
        return [(row["text"], row[label]) for row in reader]


def banking77(split: str = "train") -> list[tuple[str, str]]:
    """BANKING77 ``train`` or ``test`` as (text, intent) pairs."""
    path = BANKING77_DIR / f"{split}.csv"
    if not path.is_file():
        raise FileNotFoundError(
            f"BANKING77 is not at {path}; it ships in ../shared/data/banking77/."
        )
    return read_labelled_csv(path)
