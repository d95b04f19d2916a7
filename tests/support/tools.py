"""External tools the tests check our output with (installed by scripts/setup.sh)."""

from __future__ import annotations

import shutil

import pytest


def require_tool(name: str) -> str:
    """Path of an external tool the test needs; the CI set-up installs it, so absence is a failure."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: run the README test command, which installs it")
    return path
