"""Shared fixtures."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

# Dashboard tests: a small generated warehouse built once per session.
from dash_support import small_warehouse  # noqa: F401
from pg_support import own_database
from rr_files import write_folder


@pytest.fixture
def scratch_database():
    """A database of its own on the test server (SHOPLENS_TEST_DATABASE_URL), dropped after:
    (admin URL, database URL)."""
    with own_database("shoplens_t") as urls:
        yield urls


@pytest.fixture
def make_folder(tmp_path: Path) -> Callable[..., Path]:
    counter = iter(range(1_000_000))

    def make(events: Sequence[str], **kwargs: Sequence[str]) -> Path:
        return write_folder(tmp_path / f"raw{next(counter)}", events, **kwargs)

    return make
