"""A wheel of the project carries every data file the packages read at run time.

`make` installs the project editable, so a missing ``package-data`` pattern never shows
there; a team that builds a wheel (``pip install .``, a Docker image) would get a bot
that cannot calibrate (``calibration_off_topic.txt``) or a page without its examples.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from core.settings import PROJECT_ROOT

PACKAGES = ("apps", "core", "shared_models")


def _tracked_data_files() -> list[str]:
    """Every file git tracks in the packages that is not Python source."""
    listing = subprocess.run(
        ["git", "-C", str(PROJECT_ROOT), "ls-files", *PACKAGES],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    return sorted(p for p in listing if not p.endswith(".py"))


def test_the_wheel_carries_every_data_file(tmp_path: Path) -> None:
    source = tmp_path / "source"
    for name in (*PACKAGES, "pyproject.toml", "README.md"):
        path = PROJECT_ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(path, source / name)
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation",
         "--disable-pip-version-check", "-q", "-w", str(tmp_path / "dist")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("springboard-*.whl")
    packed = set(zipfile.ZipFile(wheel).namelist())
    expected = _tracked_data_files()
    assert "apps/customer_service/calibration_off_topic.txt" in expected  # the listing works
    missing = [p for p in expected if p not in packed]
    assert not missing, f"not in the wheel (add to [tool.setuptools.package-data]): {missing}"
