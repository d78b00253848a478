"""Reference transcripts for scoring a folder of recordings.

Three layouts are understood, checked in this order for each audio file:

* a sidecar text file: ``call1.wav`` + ``call1.txt``;
* LibriSpeech's ``*.trans.txt``: one ``<file stem> <TEXT>`` line per file;
* CMU Sphinx's ``transcription`` file: ``<s> text </s> (file stem)`` lines
  (Debian's pocketsphinx-testdata ships its LibriVox clips this way).
"""

from __future__ import annotations

import re
from pathlib import Path

from .audio import AUDIO_EXTENSIONS

_SPHINX_LINE = re.compile(r"^(?P<text>.*?)\s*\((?P<id>[^()]+)\)\s*$")


def _listing_references(folder: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for listing in sorted(folder.glob("*.trans.txt")):
        for line in listing.read_text(encoding="utf-8", errors="replace").splitlines():
            stem, _, text = line.strip().partition(" ")
            if stem and text:
                found.setdefault(stem, text)
    sphinx = folder / "transcription"
    if sphinx.is_file():
        for line in sphinx.read_text(encoding="utf-8", errors="replace").splitlines():
            match = _SPHINX_LINE.match(line.strip())
            if match:
                text = match["text"].replace("<s>", "").replace("</s>", "").strip()
                found.setdefault(match["id"].strip(), text)
    return found


def find_pairs(folder: str | Path) -> list[tuple[Path, str]]:
    """(audio file, reference text) for every audio file in ``folder`` that has a reference."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"No such folder: {folder}")
    listed = _listing_references(folder)
    pairs = []
    for path in sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO_EXTENSIONS):
        sidecar = path.with_suffix(".txt")
        if sidecar.is_file():
            pairs.append((path, sidecar.read_text(encoding="utf-8", errors="replace").strip()))
        elif path.stem in listed:
            pairs.append((path, listed[path.stem]))
    return pairs
