"""Settings of the cleaning pipeline and the column mapping of generic event tables.

Both are validated when they are made: a wrong type or a value out of range raises
:class:`shoplens.InvalidArgumentError` (or :class:`shoplens.SchemaError` for a mapping) naming the
argument, the value and what is allowed.
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, date, datetime
from typing import Any, Literal

__all__ = ["CleanConfig", "EventSchema"]

TimeUnit = Literal["s", "ms", "us", "ns"]
_UNITS = ("s", "ms", "us", "ns")
_EVENT_KINDS = ("view", "addtocart", "transaction")


def _epoch_ms(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _bad(name: str, value: object, allowed: str) -> Exception:
    from shoplens.errors import InvalidArgumentError

    return InvalidArgumentError(f"{name}={value!r} is not allowed: expected {allowed}")


def _number(name: str, value: object, *, minimum: float, inclusive: bool) -> float:
    allowed = f"a number {'>=' if inclusive else '>'} {minimum:g}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        raise _bad(name, value, allowed)
    if float(value) < minimum or (not inclusive and float(value) == minimum):
        raise _bad(name, value, allowed)
    return float(value)


def _count(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < 1:
        raise _bad(name, value, "a whole number >= 1")
    return int(value)


def _moment(name: str, value: object) -> datetime:
    """A datetime from a datetime, a date or ISO-8601 text; naive values are UTC."""
    allowed = "a datetime, a date or ISO-8601 text such as '2020-01-01' or '2020-01-01T12:00:00Z'"
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise _bad(name, value, allowed) from None
    else:
        raise _bad(name, value, allowed)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass(frozen=True, kw_only=True)
class CleanConfig:
    """How events are validated, de-duplicated, sessionised and flagged.

    Parameters
    ----------
    session_timeout_s : float
        A gap strictly greater than this many seconds opens a new session (default 30 minutes; a gap of
        exactly 30:00.000 stays in the session).
    near_duplicate_window_s : float or None
        Same visitor, item, event and order id within this many seconds of a kept event is quarantined as
        ``near_duplicate`` (default 1 s); ``None`` turns the rule off.
    bot_max_events : int
        Visitors with more kept events are flagged as bots (flagged, never deleted).
    bot_max_events_per_minute : int
        Visitors with more events than this inside any 60-second window are flagged as bots.
    min_timestamp, max_timestamp : datetime, date or str
        Plausible event times, ``[min, max)``; naive values and ISO text without an offset are UTC.
    strict : bool
        Raise :class:`shoplens.DataFileError` at the first invalid row instead of quarantining it.
    price_property : str or None
        Take prices from this item property (as of the event time) instead of ``prices.csv``.

    Examples
    --------
    >>> CleanConfig(session_timeout_s=600).session_timeout_s
    600.0
    >>> CleanConfig(min_timestamp="2020-01-01").min_timestamp
    datetime.datetime(2020, 1, 1, 0, 0, tzinfo=datetime.timezone.utc)
    >>> CleanConfig(bot_max_events=-1)
    Traceback (most recent call last):
    ...
    shoplens.errors.InvalidArgumentError: bot_max_events=-1 is not allowed: expected a whole number >= 1
    """

    session_timeout_s: float = 1800.0
    near_duplicate_window_s: float | None = 1.0
    bot_max_events: int = 1000
    bot_max_events_per_minute: int = 60
    min_timestamp: datetime | date | str = datetime(2000, 1, 1, tzinfo=UTC)
    max_timestamp: datetime | date | str = datetime(2100, 1, 1, tzinfo=UTC)
    strict: bool = False
    price_property: str | None = None

    def __post_init__(self) -> None:
        put = object.__setattr__
        put(self, "session_timeout_s", _number("session_timeout_s", self.session_timeout_s, minimum=0, inclusive=False))
        if self.near_duplicate_window_s is not None:
            window = _number("near_duplicate_window_s", self.near_duplicate_window_s, minimum=0, inclusive=True)
            put(self, "near_duplicate_window_s", window)
        put(self, "bot_max_events", _count("bot_max_events", self.bot_max_events))
        put(self, "bot_max_events_per_minute", _count("bot_max_events_per_minute", self.bot_max_events_per_minute))
        low = _moment("min_timestamp", self.min_timestamp)
        high = _moment("max_timestamp", self.max_timestamp)
        if low >= high:
            raise _bad("max_timestamp", self.max_timestamp, f"a time after min_timestamp={low.isoformat()}")
        put(self, "min_timestamp", low)
        put(self, "max_timestamp", high)
        if not isinstance(self.strict, bool):
            raise _bad("strict", self.strict, "True or False")
        if self.price_property is not None and (not isinstance(self.price_property, str) or not self.price_property):
            raise _bad("price_property", self.price_property, "None or the name of an item property")

    def to_json(self, schema: EventSchema | None = None) -> str:
        """The engine's JSON form (milliseconds), with the event mapping of ``schema`` if given."""
        window = self.near_duplicate_window_s
        assert isinstance(self.min_timestamp, datetime) and isinstance(self.max_timestamp, datetime)
        payload: dict[str, object] = {
            "session_timeout_ms": round(self.session_timeout_s * 1000),
            "near_duplicate_window_ms": -1 if window is None else round(window * 1000),
            "bot_max_events": self.bot_max_events,
            "bot_max_events_per_minute": self.bot_max_events_per_minute,
            "min_timestamp_ms": _epoch_ms(self.min_timestamp),
            "max_timestamp_ms": _epoch_ms(self.max_timestamp),
            "strict": self.strict,
            "price_property": self.price_property,
        }
        if schema is not None:
            payload["timestamp_unit"] = schema.timestamp_unit
            payload["event_names"] = {k: list(v) for k, v in schema.event_values.items()}
        return json.dumps(payload)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _default_event_values() -> dict[str, tuple[str, ...]]:
    return {
        "view": ("view", "page_view", "pageview"),
        "addtocart": ("addtocart", "add_to_cart", "cart"),
        "transaction": ("transaction", "purchase", "order"),
    }


@dataclass(frozen=True, kw_only=True)
class EventSchema:
    """Which columns of a generic event table hold what, and what its event values mean.

    Parameters
    ----------
    user, timestamp, event : str
        Required columns: user (visitor) id, event time, event type.
    item : str or None
        Item (product) id column; ``None`` for a page-level clickstream (the product tables stay empty).
    order : str or None
        Order (transaction) id column; ``None`` makes each purchase row its own order.
    price : str or None
        Price of the item on purchase rows (revenue); ``None`` leaves revenue null.
    session : str or None
        The source's own session id column, used instead of the inactivity rule.
    timestamp_unit : {"s", "ms", "us", "ns"}
        Unit of integer timestamps; datetime columns and ISO-8601 text are read as UTC.
    event_values : mapping
        For each of ``view``, ``addtocart`` and ``transaction``, the source values that mean it.
    other_events : {"keep", "drop"}
        Events of any other type (home, search, ...) are kept under their own name and count in
        sessions, bounce and activity (``"keep"``), or quarantined as ``unknown_event_type``.

    Ids may be integers or text (``"C-001"``, UUIDs); only an empty id breaks a rule.

    Examples
    --------
    >>> schema = EventSchema(user="customer", timestamp="ts", event="type", item="sku", order="order")
    >>> schema.columns()["visitor"]
    'customer'
    >>> EventSchema.from_mapping({"user": "customer", "item": None}).item is None
    True
    >>> EventSchema(usr="customer")
    Traceback (most recent call last):
    ...
    TypeError: EventSchema.__init__() got an unexpected keyword argument 'usr'
    """

    user: str = "user_id"
    timestamp: str = "timestamp"
    event: str = "event"
    item: str | None = "item_id"
    order: str | None = None
    price: str | None = None
    session: str | None = None
    timestamp_unit: TimeUnit = "ms"
    event_values: Mapping[str, Sequence[str]] = field(default_factory=_default_event_values)
    other_events: Literal["keep", "drop"] = "keep"

    def __post_init__(self) -> None:
        from shoplens.errors import SchemaError

        for name in ("user", "timestamp", "event"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise SchemaError(f"{name}={value!r} is not allowed: expected a column name")
        for name in ("item", "order", "price", "session"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value):
                raise SchemaError(f"{name}={value!r} is not allowed: expected a column name or None")
        if self.timestamp_unit not in _UNITS:
            raise SchemaError(f"timestamp_unit={self.timestamp_unit!r} is not allowed: expected one of {_UNITS}")
        if self.other_events not in ("keep", "drop"):
            raise SchemaError(f"other_events={self.other_events!r} is not allowed: expected 'keep' or 'drop'")
        if not isinstance(self.event_values, Mapping):
            raise SchemaError(
                f"event_values={self.event_values!r} is not allowed: expected a mapping of {_EVENT_KINDS} to names"
            )
        unknown = sorted(set(self.event_values) - set(_EVENT_KINDS))
        missing = [k for k in _EVENT_KINDS if k not in self.event_values]
        if unknown or missing:
            raise SchemaError(
                f"event_values has keys {sorted(self.event_values)}: expected exactly {list(_EVENT_KINDS)}"
                + (f" (missing {missing})" if missing else "")
                + (f" (unknown {unknown})" if unknown else "")
            )
        values: dict[str, tuple[str, ...]] = {}
        for kind in _EVENT_KINDS:
            names = self.event_values[kind]
            names = (names,) if isinstance(names, str) else names
            if not isinstance(names, Sequence) or not names or not all(isinstance(n, str) and n for n in names):
                raise SchemaError(f"event_values[{kind!r}]={names!r} is not allowed: expected one or more names")
            values[kind] = tuple(names)
        object.__setattr__(self, "event_values", values)

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any]) -> EventSchema:
        """An EventSchema from a dict (e.g. a TOML or JSON mapping file); unknown keys are named."""
        from shoplens.errors import SchemaError

        if not isinstance(mapping, Mapping):
            raise SchemaError(f"schema={mapping!r} is not allowed: expected an EventSchema or a dict")
        allowed = [f.name for f in fields(cls)]
        unknown = sorted(set(mapping) - set(allowed))
        if unknown:
            raise SchemaError(f"schema has unknown keys {unknown}: expected some of {allowed}")
        return cls(**mapping)

    def columns(self) -> dict[str, str]:
        """Engine field name -> source column name, for the mapped columns."""
        mapping = {"timestamp": self.timestamp, "visitor": self.user, "event": self.event}
        for name in ("item", "order", "price", "session"):
            value = getattr(self, name)
            if value is not None:
                mapping[name] = value
        return mapping

    def to_json(self) -> str:
        """The engine's column mapping (JSON)."""
        return json.dumps({**self.columns(), "keep_other_events": self.other_events == "keep"})


RETAILROCKET_SCHEMA = EventSchema(
    user="visitorid",
    timestamp="timestamp",
    event="event",
    item="itemid",
    order="transactionid",
    event_values={"view": ("view",), "addtocart": ("addtocart",), "transaction": ("transaction",)},
)
