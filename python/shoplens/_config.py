"""Settings of the cleaning pipeline and the column mapping of generic event tables."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Literal

__all__ = ["CleanConfig", "EventSchema"]

TimeUnit = Literal["s", "ms", "us", "ns"]


def _epoch_ms(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


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
    min_timestamp, max_timestamp : datetime
        Plausible event times, ``[min, max)``; naive datetimes are read as UTC.
    strict : bool
        Raise :class:`shoplens.DataFileError` at the first invalid row instead of quarantining it.
    price_property : str or None
        Take prices from this item property (as of the event time) instead of ``prices.csv``.

    Examples
    --------
    >>> CleanConfig(session_timeout_s=600).session_timeout_s
    600
    """

    session_timeout_s: float = 1800.0
    near_duplicate_window_s: float | None = 1.0
    bot_max_events: int = 1000
    bot_max_events_per_minute: int = 60
    min_timestamp: datetime = datetime(2000, 1, 1, tzinfo=UTC)
    max_timestamp: datetime = datetime(2100, 1, 1, tzinfo=UTC)
    strict: bool = False
    price_property: str | None = None

    def to_json(self, schema: EventSchema | None = None) -> str:
        """The engine's JSON form (milliseconds), with the event mapping of ``schema`` if given."""
        window = self.near_duplicate_window_s
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
    user, timestamp, event, item : str
        Required columns: user (visitor) id, event time, event type, item id.
    order, price : str or None
        Optional columns: order (transaction) id and item price on purchase rows.
    timestamp_unit : {"s", "ms", "us", "ns"}
        Unit of integer timestamps; datetime columns and ISO-8601 text are read as UTC.
    event_values : mapping
        For each of ``view``, ``addtocart`` and ``transaction``, the source values that mean it.

    Examples
    --------
    >>> schema = EventSchema(user="customer", timestamp="ts", event="type", item="sku", order="order")
    >>> schema.columns()["visitor"]
    'customer'
    """

    user: str = "user_id"
    timestamp: str = "timestamp"
    event: str = "event"
    item: str = "item_id"
    order: str | None = None
    price: str | None = None
    timestamp_unit: TimeUnit = "ms"
    event_values: Mapping[str, Sequence[str]] = field(default_factory=_default_event_values)

    def __post_init__(self) -> None:
        from shoplens.errors import SchemaError

        if self.timestamp_unit not in ("s", "ms", "us", "ns"):
            raise SchemaError(f"timestamp_unit must be s, ms, us or ns, not {self.timestamp_unit!r}")
        missing = {"view", "addtocart", "transaction"} - set(self.event_values)
        if missing:
            raise SchemaError(f"event_values lacks {sorted(missing)}")

    def columns(self) -> dict[str, str]:
        """Engine field name -> source column name, for the mapped columns."""
        mapping = {
            "timestamp": self.timestamp,
            "visitor": self.user,
            "event": self.event,
            "item": self.item,
        }
        if self.order is not None:
            mapping["order"] = self.order
        if self.price is not None:
            mapping["price"] = self.price
        return mapping


RETAILROCKET_SCHEMA = EventSchema(
    user="visitorid",
    timestamp="timestamp",
    event="event",
    item="itemid",
    order="transactionid",
    event_values={"view": ("view",), "addtocart": ("addtocart",), "transaction": ("transaction",)},
)
