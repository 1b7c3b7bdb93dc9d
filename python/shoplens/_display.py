"""How result objects show themselves in a notebook: an HTML table of their fields."""

from __future__ import annotations

import dataclasses
import html
import math
from typing import Any

import numpy as np

__all__ = ["ResultDisplay", "format_pvalue", "format_value"]


def format_pvalue(p: float) -> str:
    """A p-value as a report prints it: 4 decimals, ``< 1e-4`` below that, ``nan`` when undefined."""
    if not isinstance(p, int | float) or math.isnan(p):
        return "nan"
    if p < 1e-4:
        return "< 1e-4"
    return f"{p:.4f}"


def format_value(value: Any) -> str:
    """Short text of one field: floats to 6 significant digits, arrays by shape and first values."""
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, float | np.floating):
        return f"{float(value):.6g}"
    if isinstance(value, np.ndarray):
        head = ", ".join(f"{float(v):.4g}" for v in value.ravel()[:4])
        more = ", ..." if value.size > 4 else ""
        return f"array{value.shape} [{head}{more}]"
    if isinstance(value, tuple) and all(isinstance(v, float | int) for v in value):
        return "(" + ", ".join(format_value(v) for v in value) + ")"
    if isinstance(value, ResultDisplay):
        return type(value).__name__
    if isinstance(value, tuple | list):
        return f"{len(value)} {type(value).__name__}"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class ResultDisplay:
    """Mixin for frozen result dataclasses: ``_repr_html_`` renders the fields as a table."""

    __slots__ = ()

    def _display_fields(self) -> list[tuple[str, Any]]:
        if not dataclasses.is_dataclass(self):
            return []
        return [(f.name, getattr(self, f.name)) for f in dataclasses.fields(self)]

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(name)}</th>"
            f"<td style='text-align:left'>{html.escape(format_value(value))}</td></tr>"
            for name, value in self._display_fields()
        )
        return f"<table><caption>{html.escape(type(self).__name__)}</caption>{rows}</table>"
