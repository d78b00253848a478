"""The environment `make test` runs in is exactly the lock, and the lock covers pyproject.toml.

A startup that clones Springboard next month must get the environment these tests
passed in. `make install` syncs `.venv` to one lock file (plus the weight packages and
the project itself); these tests check that nothing else crept in and nothing is missing,
and that the lock still satisfies every range in `pyproject.toml` (an edited dependency
without `make lock` fails here, not on a user's machine).
"""

from __future__ import annotations

import re
import sys
import sysconfig
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from core.settings import PROJECT_ROOT

REQUIREMENTS = PROJECT_ROOT / "requirements"
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(path: Path) -> dict[str, str]:
    """``name==version`` lines of a requirements file, by normalised name."""
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if match := _PIN.match(line):
            pins[_normalise(match[1])] = match[2]
    return pins


def _installed_lock() -> Path:
    """The lock `make install` synced this environment to, from the stamp it leaves."""
    stamps = sorted(Path(sys.prefix).glob(".installed-*"))
    if not stamps:
        pytest.skip(
            f"{sys.prefix} was not installed by `make install` (for example `make test-latest`, "
            "which deliberately ignores the lock)"
        )
    assert len(stamps) == 1, f"one install stamp expected, found {[s.name for s in stamps]}"
    return REQUIREMENTS / stamps[0].name.removeprefix(".installed-")


def test_the_environment_is_exactly_the_lock() -> None:
    lock = _installed_lock()
    expected = _pins(lock) | _pins(REQUIREMENTS / "weights.txt")
    expected["springboard"] = metadata.version("springboard")
    site = sysconfig.get_paths()["purelib"]
    installed = {
        _normalise(dist.metadata["Name"]): dist.version
        for dist in metadata.distributions(path=[site])
    }
    extra = {name: v for name, v in installed.items() if name not in expected}
    missing = {name: v for name, v in expected.items() if name not in installed}
    wrong = {
        name: (installed[name], v)
        for name, v in expected.items()
        if name in installed and installed[name] != v
    }
    assert not (extra or missing or wrong), (
        f"{site} differs from {lock.name}: not in the lock {extra}, missing {missing}, "
        f"(installed, locked) {wrong}. Run `make install` (or `make lock` after editing "
        "pyproject.toml)."
    )


@pytest.mark.parametrize(
    ("lock", "extras"),
    [
        ("lock.txt", ["dev"]),
        ("lock-gpu.txt", ["dev", "gpu"]),
        ("lock-bench.txt", ["dev", "bench"]),
        ("lock-cluster.txt", ["dev", "cluster"]),  # what `make test` installs (Ray Serve tests)
        ("lock-py3.12.txt", ["dev"]),
        ("lock-py3.13.txt", ["dev"]),
    ],
)
def test_every_lock_satisfies_pyproject(lock: str, extras: list[str]) -> None:
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    wanted = list(project["project"]["dependencies"])
    for extra in extras:
        wanted += project["project"]["optional-dependencies"][extra]
    pins = _pins(REQUIREMENTS / lock)
    python = re.search(r"lock-py(\d+\.\d+)", lock)
    environment = {"python_version": python[1] if python else "3.11", "sys_platform": "linux"}
    unmet = []
    for line in wanted:
        requirement = Requirement(line)
        if requirement.marker and not requirement.marker.evaluate(environment):
            continue
        pinned = pins.get(_normalise(requirement.name))
        if pinned is None or not requirement.specifier.contains(pinned, prereleases=True):
            unmet.append(f"{requirement} (locked: {pinned})")
    assert not unmet, f"{lock} does not satisfy pyproject.toml: {unmet}. Run `make lock`."
