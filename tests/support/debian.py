"""Test data and tools that come from Debian packages rather than from pip.

``.ci/run`` installs them with apt-get (see the README). On a developer's machine a
test that needs a missing one is skipped with the apt-get line to run; in CI (the
``CI`` environment variable set, as CI services do) it fails instead, because there a
missing package means the install step broke and a skip would hide every test it gates.
The browser tests go further and always fail without Chromium (tests/browser/conftest.py).
"""

from __future__ import annotations

import os

import pytest


def in_ci() -> bool:
    """Whether the tests run in CI (``CI`` set to anything but empty, 0, false or no)."""
    return os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}


def require_debian_package(package: str, installed: bool, what: str) -> None:
    """Skip, or fail in CI, unless ``installed``: ``what`` needs Debian's ``package``."""
    if installed:
        return
    message = f"{what} needs Debian's {package}: sudo apt-get install {package} (.ci/run installs it)"
    if in_ci():
        pytest.fail(f"{message}. CI must have it, so this is a failure, not a skip.", pytrace=False)
    pytest.skip(message)
