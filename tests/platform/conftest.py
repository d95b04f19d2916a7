"""Fixtures of the platform tests (see platform_helpers)."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from platform_helpers import Deployment, make_platform

_counter = itertools.count()

_DB_KINDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def new_platform_db(request: pytest.FixtureRequest) -> Callable[[str], str | None]:
    """``new_platform_db(kind)``: None (SQLite in the folder) or a fresh PostgreSQL database URL."""

    def make(kind: str) -> str | None:
        if kind == "sqlite":
            return None
        server = request.getfixturevalue("postgres")
        return str(server.new_database(f"pf_{os.getpid()}_{next(_counter)}"))

    return make


@pytest.fixture(scope="module", params=_DB_KINDS)
def deployment(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    new_platform_db: Callable[[str], str | None],
) -> Iterator[Deployment]:
    """A platform with agencies ``dla`` and ``pao`` and operators of every role, on SQLite and on
    PostgreSQL (shared by the tests of a module: tests that change it add their own officers)."""
    base: Path = tmp_path_factory.mktemp(f"platform-{request.param}")
    d = make_platform(base, new_platform_db(request.param))
    yield d
    d.platform.close()
