"""Checks on files that callers hand to the apps, made before a byte is read.

A file over ``limits.max_upload_mb`` is refused from its size on disk
(``os.stat``), so a 20 GB "CSV" costs one system call, not a read into memory.
"""

from __future__ import annotations

from pathlib import Path

from .errors import InvalidInputError

LIMIT_SETTING = "limits.max_upload_mb (SPRINGBOARD_LIMITS__MAX_UPLOAD_MB)"


def check_file_size(
    path: str | Path, max_upload_mb: float | None = None, what: str = "file", label: str | None = None
) -> int:
    """The size of ``path`` in bytes; ``InvalidInputError`` if it is over the upload limit.

    ``max_upload_mb`` defaults to the process settings. The error names the setting, and
    the file as ``label`` (the name the user knows, e.g. of an upload) or its own name.
    """
    if max_upload_mb is None:
        from .settings import get_settings

        max_upload_mb = get_settings().limits.max_upload_mb
    path = Path(path)
    label = label or path.name
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InvalidInputError(f"Cannot read the {what} {label!r} ({exc.strerror}).") from exc
    if size > max_upload_mb * 1024 * 1024:
        raise InvalidInputError(
            f"The {what} {label!r} is {size / 2**20:,.1f} MB; the upload limit is "
            f"{max_upload_mb:g} MB (setting {LIMIT_SETTING})."
        )
    return size
