"""Synthetic data sets in the RetailRocket format, with known injected effects.

The public entry point is :func:`shoplens.generate`; the heavy lifting is the Rust engine
(``src/generate/``), which is deterministic for a seed and scales linearly.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shoplens import _native
from shoplens.errors import InvalidArgumentError

__all__ = ["GenerateResult", "generate"]

_MAX_SEED = 2**64


@dataclass(frozen=True)
class GenerateResult:
    """What :func:`generate` wrote.

    Attributes
    ----------
    out_dir : pathlib.Path
        The output directory.
    files : dict of str to pathlib.Path
        Every file written, by file name (``"events.csv"``, ..., ``"truth.json"``).
    rows : dict of str to int
        Data rows (header excluded) of each CSV file, injected rows included.
    """

    out_dir: Path
    files: dict[str, Path]
    rows: dict[str, int]

    @property
    def truth(self) -> dict[str, Any]:
        """The injected truth (``truth.json``): clean counts, duplicate, malformed and bot rows,
        the outage window and the experiments' real effects."""
        with open(self.out_dir / "truth.json", encoding="utf-8") as f:
            truth: dict[str, Any] = json.load(f)
        return truth


def generate(
    out: str | os.PathLike[str],
    *,
    scale: float = 1.0,
    seed: int = 42,
    inject_anomalies: bool = True,
    progress: bool = False,
) -> GenerateResult:
    """Write a synthetic e-commerce data set in the RetailRocket format.

    At ``scale=1.0`` the marginals match the published figures of the real data set
    (about 2.76 M events, 1.41 M visitors, 11.7 k buyers, 17.7 k orders, 235 k items with
    events out of 417 k, 1,669 categories, 2015-05-03 .. 2015-09-18); every count is linear
    in ``scale`` except the fixed category tree. The same seed and scale give byte-identical
    files, whatever the number of threads.

    Files written into ``out``: ``events.csv``, ``item_properties_part1.csv``,
    ``item_properties_part2.csv``, ``category_tree.csv`` (the RetailRocket formats),
    ``prices.csv`` (one price per item: RetailRocket has none), ``experiments.csv`` and
    ``experiment_weights.csv`` (assignments and planned weights of three experiments), and
    ``truth.json`` describing everything injected.

    Parameters
    ----------
    out : str or os.PathLike
        Output directory, created if missing; existing files of the same names are replaced.
    scale : float, default 1.0
        Size relative to the real data set, in (0, 100]. ``0.01`` suits tests (about 28 k
        events), ``1.0`` takes a few seconds, ``10`` is a benchmark.
    seed : int, default 42
        Random seed in [0, 2**64).
    inject_anomalies : bool, default True
        Add bot visitors, exact and near-duplicate rows, malformed rows (one batch per
        validation rule), a 6-hour checkout outage and a sample-ratio mismatch in
        ``recs_srm``. The ``checkout_redesign`` lift (+15 % user conversion) and the
        ``homepage_aa`` A/A test are always present.
    progress : bool, default False
        Draw a progress bar on stderr (only when stderr is a terminal).

    Returns
    -------
    GenerateResult
        Paths and row counts of the files; ``.truth`` loads ``truth.json``.

    Raises
    ------
    shoplens.errors.InvalidArgumentError
        If ``scale`` is not a finite number in (0, 100] or ``seed`` is out of range.
    shoplens.errors.StorageError
        If the directory or a file cannot be written.

    Examples
    --------
    >>> import tempfile
    >>> from shoplens import generate
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     result = generate(tmp, scale=0.001, seed=7)
    ...     truth = result.truth
    ...     print(result.rows["category_tree.csv"], result.files["events.csv"].name)
    ...     print(truth["counts"]["visitors"], truth["exact_duplicates"]["count"])
    1669 events.csv
    1408 1
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < _MAX_SEED:
        raise InvalidArgumentError(f"seed must be an integer in [0, 2**64), got {seed!r}")
    if isinstance(scale, bool) or not isinstance(scale, int | float):
        raise InvalidArgumentError(f"scale must be a number, got {scale!r}")
    summary = _native.generate(
        os.fspath(out),
        scale=float(scale),
        seed=seed,
        inject_anomalies=bool(inject_anomalies),
        progress=bool(progress),
    )
    return GenerateResult(
        out_dir=Path(summary["out_dir"]),
        files={name: Path(path) for name, path in summary["files"].items()},
        rows=dict(summary["rows"]),
    )
