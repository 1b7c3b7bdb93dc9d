"""Shared fixtures."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

# Dashboard tests: a small generated warehouse built once per session.
from dash_support import small_warehouse  # noqa: F401
from rr_files import write_folder


@pytest.fixture
def make_folder(tmp_path: Path) -> Callable[..., Path]:
    counter = iter(range(1_000_000))

    def make(events: Sequence[str], **kwargs: Sequence[str]) -> Path:
        return write_folder(tmp_path / f"raw{next(counter)}", events, **kwargs)

    return make
