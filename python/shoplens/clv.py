"""Customer lifetime value: RFM summaries, BG/NBD and Gamma-Gamma models, discounted CLV.

The engine (``src/clv``) computes every number; this module validates arguments, converts arrays and
wraps results in frozen objects. Vocabulary and conventions follow the ``lifetimes`` package
(Fader, Hardie & Lee): ``frequency`` = repeat purchase periods, ``recency`` = age of the customer at the
last purchase, ``T`` = age at the end of the observation, ``monetary_value`` = mean value of the repeat
purchases, all times in one unit.

The maximum-likelihood fits reproduce the published CDNOW values (BG/NBD r = 0.243, alpha = 4.414,
a = 0.793, b = 2.426; Gamma-Gamma p = 6.25, q = 3.74, v = 15.44).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from shoplens import _native
from shoplens.errors import InvalidArgumentError, SchemaError

if TYPE_CHECKING:
    import polars as pl

    from shoplens._pipeline import Warehouse

__all__ = [
    "BetaGeoFit",
    "GammaGammaFit",
    "customer_lifetime_value",
    "customers",
    "fit_bgnbd",
    "fit_gamma_gamma",
    "simulate_bgnbd",
    "summary",
]

ArrayLike = Sequence[float] | np.ndarray[Any, Any] | Any
_UNITS = ("D", "W")


def _array(name: str, values: ArrayLike) -> np.ndarray[Any, np.dtype[np.float64]]:
    try:
        arr = np.ascontiguousarray(np.asarray(values, dtype=np.float64))
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(f"{name}: expected numbers ({exc})") from None
    if arr.ndim != 1:
        raise InvalidArgumentError(f"{name}: expected a 1-d array, got shape {arr.shape}")
    return arr


def _unit(unit: str) -> str:
    if unit not in _UNITS:
        raise InvalidArgumentError(f"unit={unit!r}: allowed 'D' (days), 'W' (weeks)")
    return unit


def _horizon(t: float) -> float:
    t = float(t)
    if not (np.isfinite(t) and t >= 0):
        raise InvalidArgumentError(f"t={t}: must be finite and >= 0")
    return t


@dataclass(frozen=True)
class BetaGeoFit:
    """A BG/NBD model: purchase rate ~ Gamma(r, alpha), dropout probability ~ Beta(a, b).

    ``log_likelihood`` is the maximised log-likelihood in the time unit of the fitted data (NaN for a
    model built from given parameters).
    """

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float = float("nan")
    n_customers: int = 0
    iterations: int = 0

    @property
    def params(self) -> tuple[float, float, float, float]:
        return (self.r, self.alpha, self.a, self.b)

    def p_alive(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> np.ndarray[Any, Any]:
        """P(alive | frequency, recency, T): 1 for customers without a repeat purchase."""
        return _native.bgnbd_predict(
            self.params, "p_alive", 0.0, _array("frequency", frequency), _array("recency", recency), _array("T", T)
        )

    def expected_purchases(
        self, t: float, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> np.ndarray[Any, Any]:
        """Expected purchases in the next ``t`` time units, given each customer's history
        (lifetimes' ``conditional_expected_number_of_purchases_up_to_time``)."""
        return _native.bgnbd_predict(
            self.params,
            "expected_purchases",
            _horizon(t),
            _array("frequency", frequency),
            _array("recency", recency),
            _array("T", T),
        )

    def expected_purchases_new(self, t: float) -> float:
        """Expected repeat purchases of a new customer in ``(0, t]`` (unconditional E[X(t)])."""
        return float(_native.bgnbd_expected_purchases_new(self.params, _horizon(t)))

    def log_likelihood_of(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> float:
        """Log-likelihood of other data at these parameters."""
        return float(
            _native.bgnbd_log_likelihood(
                self.params, _array("frequency", frequency), _array("recency", recency), _array("T", T)
            )
        )


@dataclass(frozen=True)
class GammaGammaFit:
    """A Gamma-Gamma spend model: spend per purchase ~ Gamma(p, nu), nu ~ Gamma(q, v)."""

    p: float
    q: float
    v: float
    log_likelihood: float = float("nan")
    n_customers: int = 0
    iterations: int = 0

    @property
    def params(self) -> tuple[float, float, float]:
        return (self.p, self.q, self.v)

    def expected_spend(self, frequency: ArrayLike, monetary_value: ArrayLike) -> np.ndarray[Any, Any]:
        """Expected mean spend per purchase (lifetimes' ``conditional_expected_average_profit``)."""
        return _native.gamma_gamma_expected_spend(
            self.params, _array("frequency", frequency), _array("monetary_value", monetary_value)
        )

    def customer_lifetime_value(
        self,
        bgnbd: BetaGeoFit,
        frequency: ArrayLike,
        recency: ArrayLike,
        T: ArrayLike,
        monetary_value: ArrayLike,
        *,
        months: int = 12,
        discount_rate: float = 0.01,
        unit: Literal["D", "W"] = "D",
    ) -> np.ndarray[Any, Any]:
        """Discounted CLV per customer; see :func:`customer_lifetime_value`."""
        return customer_lifetime_value(
            bgnbd,
            self,
            frequency,
            recency,
            T,
            monetary_value,
            months=months,
            discount_rate=discount_rate,
            unit=unit,
        )


def fit_bgnbd(frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> BetaGeoFit:
    """Fit the BG/NBD model by maximum likelihood.

    Parameters
    ----------
    frequency, recency, T : array_like
        Per customer: repeat purchases (non-negative integers), age at the last purchase and at the end
        of observation (``0 <= recency <= T``; recency 0 when frequency is 0), in one time unit.

    Returns
    -------
    BetaGeoFit
        ``r, alpha, a, b, log_likelihood`` and prediction methods.

    Examples
    --------
    >>> x, tx, T = simulate_bgnbd(20_000, r=0.5, alpha=6.0, a=0.7, b=2.5, T=(26.0, 52.0), seed=1)
    >>> fit = fit_bgnbd(x, tx, T)
    >>> abs(fit.r - 0.5) < 0.1 and abs(fit.alpha - 6.0) < 1.5
    True
    >>> bool(fit.p_alive([0], [0], [30])[0] == 1.0)
    True
    """
    x, tx, t = _array("frequency", frequency), _array("recency", recency), _array("T", T)
    return BetaGeoFit(**_native.fit_bgnbd(x, tx, t))


def fit_gamma_gamma(frequency: ArrayLike, monetary_value: ArrayLike) -> GammaGammaFit:
    """Fit the Gamma-Gamma spend model by maximum likelihood on customers with frequency > 0 and
    monetary_value > 0 (the others are ignored, as in the published fits).

    Examples
    --------
    Customers drawn from the model with numpy (p = 6, q = 4, v = 15):

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.integers(1, 6, 5000).astype(float)
    >>> nu = rng.gamma(4.0, 1 / 15.0, 5000)
    >>> m = rng.gamma(6.0 * x, 1 / (nu * x))
    >>> fit = fit_gamma_gamma(x, m)
    >>> bool(abs(fit.p - 6) < 1 and abs(fit.q - 4) < 1), fit.n_customers
    (True, 5000)
    """
    x, m = _array("frequency", frequency), _array("monetary_value", monetary_value)
    return GammaGammaFit(**_native.fit_gamma_gamma(x, m))


def customer_lifetime_value(
    bgnbd: BetaGeoFit,
    gamma_gamma: GammaGammaFit,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    monetary_value: ArrayLike,
    *,
    months: int = 12,
    discount_rate: float = 0.01,
    unit: Literal["D", "W"] = "D",
) -> np.ndarray[Any, Any]:
    """Discounted customer lifetime value, as lifetimes' ``customer_lifetime_value``.

    Sum over months i = 1..``months`` of expected spend x expected purchases in month i, divided by
    ``(1 + discount_rate) ** i``; a month is 30 days (``unit="D"``) or 4.345 weeks (``unit="W"``), the
    unit of recency and T.
    """
    if not isinstance(bgnbd, BetaGeoFit) or not isinstance(gamma_gamma, GammaGammaFit):
        raise InvalidArgumentError("customer_lifetime_value needs a BetaGeoFit and a GammaGammaFit")
    if isinstance(months, bool) or not isinstance(months, int) or months < 0:
        raise InvalidArgumentError(f"months={months!r}: must be a non-negative integer")
    return _native.customer_lifetime_value(
        bgnbd.params,
        gamma_gamma.params,
        _array("frequency", frequency),
        _array("recency", recency),
        _array("T", T),
        _array("monetary_value", monetary_value),
        months,
        float(discount_rate),
        _unit(unit),
    )


def simulate_bgnbd(
    n: int,
    *,
    r: float,
    alpha: float,
    a: float,
    b: float,
    T: tuple[float, float],
    seed: int = 0,
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Draw ``n`` customers from the BG/NBD process with ages uniform in ``T = (low, high)``;
    returns ``(frequency, recency, T)``. Seeded and reproducible."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise InvalidArgumentError(f"n={n!r}: must be a non-negative integer")
    return _native.simulate_bgnbd(n, (r, alpha, a, b), (float(T[0]), float(T[1])), int(seed))


def _day_number(value: dt.date | dt.datetime | str | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.date.fromisoformat(value[:10])
    if isinstance(value, dt.datetime):
        value = value.date()
    if not isinstance(value, dt.date):
        raise InvalidArgumentError(f"observation_period_end={value!r}: expected a date")
    return (value - dt.date(1970, 1, 1)).days


def summary(
    data: Warehouse | str | os.PathLike[str] | pl.DataFrame,
    *,
    customer_id_col: str = "customer_id",
    datetime_col: str = "date",
    monetary_value_col: str | None = None,
    observation_period_end: dt.date | dt.datetime | str | None = None,
    unit: Literal["D", "W"] = "D",
) -> pl.DataFrame:
    """RFM summary per customer, with lifetimes' conventions.

    Purchases are grouped into UTC days (purchases of one day are one period, values summed);
    ``frequency`` = purchase days - 1, ``recency`` = last - first purchase day, ``T`` = observation end
    - first purchase day, in days (``unit="D"``) or weeks of 7 days (``unit="W"``, lifetimes'
    ``freq="D", freq_multiplier=7``); ``monetary_value`` = mean of the repeat purchase days' values.

    Parameters
    ----------
    data : shoplens.Warehouse, path, or polars/pandas DataFrame
        A warehouse (its non-bot purchases, ``visitor_id`` as id, revenue as value, observed to the last
        event of the data) or a transactions table with the named columns (datetime column of Date or
        Datetime type).
    observation_period_end : date, optional
        Default: the last transaction (table) or the last event (warehouse). Later purchases are ignored.

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import date
    >>> tx = pl.DataFrame({"customer_id": [7, 7, 7, 8], "date": [date(2024, 1, 1), date(2024, 1, 1),
    ...     date(2024, 1, 15), date(2024, 1, 8)], "value": [5.0, 3.0, 20.0, 9.0]})
    >>> summary(tx, monetary_value_col="value", observation_period_end=date(2024, 1, 29), unit="W").rows()
    [(7, 1.0, 2.0, 4.0, 20.0), (8, 0.0, 0.0, 3.0, 0.0)]
    """

    from shoplens._pipeline import Warehouse, open_warehouse

    _unit(unit)
    end = _day_number(observation_period_end)
    if isinstance(data, str | os.PathLike):
        data = open_warehouse(data)
    if isinstance(data, Warehouse):
        return _native.clv_summary_events(data.table("events"), end, unit)
    from shoplens._frames import to_polars

    data = to_polars(data, "transactions (a warehouse path, a Warehouse or a DataFrame)")
    needed = [customer_id_col, datetime_col, *([monetary_value_col] if monetary_value_col else [])]
    missing = [c for c in needed if c not in data.columns]
    if missing:
        raise SchemaError(f"transactions lack columns {missing}; have {data.columns}")
    return _native.clv_summary(data, customer_id_col, datetime_col, monetary_value_col, end, unit)


def customers(data: Warehouse | str | os.PathLike[str] | pl.DataFrame) -> pl.DataFrame:
    """The per-customer CLV table: ``visitor_id, frequency, recency, T`` (days), ``monetary_value``,
    ``p_alive``, ``expected_purchases_90d``, ``clv_365d`` (12 months of 365/12 days, 1 % monthly
    discount), from BG/NBD and Gamma-Gamma fitted on the warehouse's non-bot buyers. Predictions are null
    when a model cannot be fitted (too few repeat buyers). Reads the warehouse's ``customers`` table when
    it has one; an events DataFrame is computed on the fly."""

    from shoplens._pipeline import Warehouse, open_warehouse

    if isinstance(data, str | os.PathLike):
        data = open_warehouse(data)
    if isinstance(data, Warehouse):
        if data.has_table("customers"):
            return data.table("customers")
        data = data.table("events")
    from shoplens._frames import to_polars

    return _native.clv_customers(to_polars(data, "events (a warehouse path, a Warehouse or an events DataFrame)"))
