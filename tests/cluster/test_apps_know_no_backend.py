"""The same app code runs on either backend: no app names Ray (only the server's CLI does)."""

from __future__ import annotations

import re

from core.settings import PROJECT_ROOT

# The entry point chooses the backend (--backend ray, --ray-address); nothing else may.
ENTRY_POINT = PROJECT_ROOT / "apps" / "server.py"
_RAY = re.compile(r"\bray\b", re.IGNORECASE)


def test_no_app_file_mentions_ray() -> None:
    files = [p for p in (PROJECT_ROOT / "apps").rglob("*") if p.is_file() and p.suffix in {".py", ".md", ".css", ".json"}]
    assert len(files) > 20  # the scan found the apps
    mentions = [
        f"{p.relative_to(PROJECT_ROOT)}:{n}"
        for p in files
        if p != ENTRY_POINT
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if _RAY.search(line)
    ]
    assert not mentions, mentions
