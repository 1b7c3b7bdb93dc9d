"""Users, password hashes and login throttling: in PostgreSQL when the dashboard serves it, else in one
SQLite file (mode 0600) beside the warehouse.

A database rather than an in-memory dict: gunicorn workers are separate processes, and the lock-out of an
account or an address must hold across all of them (and across restarts). :class:`AuthStore` holds every
rule (hashing, the password policy, the throttle); its two backends only run its SQL: :class:`_SQLite` on
the users file, :class:`_Postgres` on the tables of migration 0006 (``shoplens.dashboard_*``, created by
``shoplens db migrate``). Both serialise concurrent writers (SQLite's ``BEGIN IMMEDIATE``, PostgreSQL's row
locks of an upsert), so a failure counted by one process is seen by every other.

Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106 low-memory profile). There are no
default credentials: :meth:`AuthStore.ensure_admin` creates ``admin`` with a random one-time password
that must be changed at first login.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_PASSWORD_LENGTH = 12

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    hash TEXT NOT NULL,
    must_change INTEGER NOT NULL,
    version INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS failures (
    key TEXT PRIMARY KEY,
    count INTEGER NOT NULL,
    locked_until REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class Throttle:
    """Lock-out rule: after ``max_failures`` consecutive failures for a key (an account or an address),
    every attempt is refused for ``base_s * 2 ** (failures - max_failures)`` seconds (capped at
    ``cap_s``), even one with the right password."""

    max_failures: int = 5
    base_s: float = 60.0
    cap_s: float = 3600.0

    def backoff(self, failures: int) -> float:
        if failures < self.max_failures:
            return 0.0
        return min(self.cap_s, self.base_s * 2.0 ** (failures - self.max_failures))


@dataclass(frozen=True)
class User:
    name: str
    must_change: bool
    version: int


class PasswordPolicyError(ValueError):
    """A new password does not meet the policy."""


class _Transaction(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any: ...


class _SQLite:
    """The users file (SQLite, mode 0600); tables ``users``, ``failures``, ``meta``."""

    tables: ClassVar[dict[str, str]] = {"users": "users", "failures": "failures", "meta": "meta"}

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        os.close(fd)
        os.chmod(self.path, 0o600)
        with self._connect() as db:
            db.executescript(_SCHEMA)

    def __str__(self) -> str:
        return str(self.path)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # Autocommit mode: each statement commits unless inside an explicit BEGIN; always closed.
        db = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
        try:
            yield db
        finally:
            db.close()

    def close(self) -> None:
        """Nothing to close: every operation opens and closes the file."""

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[_Transaction]:
        with self._connect() as db:
            if not write:
                yield db
                return
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")


class _PgTransaction:
    """A psycopg connection in a transaction, taking the store's ``?`` placeholders."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.conn.execute(sql.replace("?", "%s"), params)


class _Postgres:
    """The tables ``shoplens.dashboard_users``, ``_failures`` and ``_meta`` (migration 0006) of the store
    the dashboard serves (psycopg 3). Each thread keeps one connection (a request checks its session's
    user: a new connection each time would cost more than the query), opened again after a fork or when
    the server dropped it; every operation is one transaction on it."""

    tables: ClassVar[dict[str, str]] = {
        "users": "shoplens.dashboard_users",
        "failures": "shoplens.dashboard_failures",
        "meta": "shoplens.dashboard_meta",
    }

    def __init__(self, url: str) -> None:
        self.url = url
        self._local = threading.local()
        # Every thread's connection and the process that opened it, so that close() (or the store's end)
        # closes them all.
        self._open: list[tuple[int, Any]] = []
        self._lock = threading.Lock()
        weakref.finalize(self, _close_all, self._open, self._lock)
        with self.transaction(write=False) as tx:
            (present,) = tx.execute("SELECT to_regclass('shoplens.dashboard_users') IS NOT NULL").fetchone()
        if not present:
            from shoplens.errors import DatabaseError

            raise DatabaseError(
                f"{self}: no dashboard users table (shoplens.dashboard_users): run `shoplens db migrate`"
            )

    def __str__(self) -> str:
        from shoplens.db import redact

        return redact(self.url)

    def _connection(self) -> Any:
        import psycopg

        conn = getattr(self._local, "conn", None)
        # A connection made by the parent of a fork is the parent's (its socket is shared): never reused.
        if conn is not None and self._local.pid == os.getpid() and not (conn.closed or conn.broken):
            return conn
        try:
            conn = psycopg.connect(self.url, autocommit=True, connect_timeout=5, application_name="shoplens-dashboard")
        except psycopg.Error as exc:
            from shoplens.errors import DatabaseError

            raise DatabaseError(f"{self}: cannot connect for the dashboard's users: {exc}") from None
        self._local.conn, self._local.pid = conn, os.getpid()
        with self._lock:
            self._open[:] = [(pid, c) for pid, c in self._open if not c.closed] + [(os.getpid(), conn)]
        return conn

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[_Transaction]:
        import psycopg

        with ExitStack() as stack:
            conn = self._connection()
            try:
                # Commits on a normal exit, rolls back on an exception.
                stack.enter_context(conn.transaction())
            except psycopg.OperationalError:
                # The server dropped the idle connection (a restart, an idle timeout) before BEGIN: nothing
                # ran, so once more on a new one.
                conn = self._connection()
                stack.enter_context(conn.transaction())
            yield _PgTransaction(conn)

    def close(self) -> None:
        """Close every thread's connection (``shoplens serve`` does before gunicorn forks its workers);
        the store stays usable and reconnects."""
        _close_all(self._open, self._lock)


def _close_all(connections: list[tuple[int, Any]], lock: threading.Lock) -> None:
    """Close the connections this process opened (never a parent's, whose sockets a fork shares)."""
    with lock:
        for pid, conn in connections:
            if pid == os.getpid():
                conn.close()
        connections[:] = [(pid, c) for pid, c in connections if not c.closed]


def is_database_url(location: str | os.PathLike[str]) -> bool:
    """Whether ``location`` is a PostgreSQL URL (else it is the path of a users file)."""
    return isinstance(location, str) and location.startswith(("postgresql://", "postgres://"))


class AuthStore:
    """The users, in PostgreSQL (``location`` a ``postgresql://`` URL of a migrated store) or in a users
    file (``location`` a path). ``clock`` is injectable so tests can let a back-off expire."""

    def __init__(
        self,
        location: str | os.PathLike[str],
        *,
        throttle: Throttle | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.backend: _SQLite | _Postgres = _Postgres(str(location)) if is_database_url(location) else _SQLite(location)
        self.throttle = throttle or Throttle()
        self.clock = clock
        self._hasher = PasswordHasher()
        # A real hash to verify against when the user does not exist, so a missing account costs the
        # same time as a wrong password (no user enumeration by timing).
        self._dummy = self._hasher.hash(secrets.token_urlsafe(16))

    def __str__(self) -> str:
        """Where the users are (a file, or the store's URL without its password)."""
        return str(self.backend)

    def close(self) -> None:
        """Release the backend's connection of this thread (the store stays usable: it reconnects)."""
        self.backend.close()

    @contextmanager
    def _run(self, *, write: bool = False) -> Iterator[Callable[..., Any]]:
        """``run(sql, *params)`` in one transaction; ``{users}``, ``{failures}``, ``{meta}`` in ``sql`` name
        the backend's tables and ``?`` marks a parameter."""
        with self.backend.transaction(write=write) as tx:

            def run(sql: str, *params: Any) -> Any:
                return tx.execute(sql.format(**self.backend.tables), params)

            yield run

    # --- users -----------------------------------------------------------------------------------
    def ensure_admin(self) -> str | None:
        """Create ``admin`` with a random one-time password when there is no user; return that password
        (to print once), or None when users exist."""
        password = secrets.token_urlsafe(15)
        digest = self._hasher.hash(password)
        with self._run(write=True) as run:
            created = run(
                "INSERT INTO {users} (name, hash, must_change) SELECT CAST(? AS TEXT), CAST(? AS TEXT), 1 "
                "WHERE NOT EXISTS (SELECT 1 FROM {users}) ON CONFLICT (name) DO NOTHING RETURNING name",
                "admin",
                digest,
            ).fetchone()
        return password if created else None

    def add_user(self, name: str, password: str, *, must_change: bool = True) -> None:
        check_password_policy(password, name=name)
        with self._run(write=True) as run:
            run(
                "INSERT INTO {users} (name, hash, must_change) VALUES (?, ?, ?)",
                name,
                self._hasher.hash(password),
                int(must_change),
            )

    def user(self, name: str) -> User | None:
        with self._run() as run:
            row = run("SELECT name, must_change, version FROM {users} WHERE name = ?", name).fetchone()
        return None if row is None else User(row[0], bool(row[1]), int(row[2]))

    def verify(self, name: str, password: str) -> bool:
        with self._run() as run:
            row = run("SELECT hash FROM {users} WHERE name = ?", name).fetchone()
        digest = row[0] if row else self._dummy
        try:
            ok = self._hasher.verify(digest, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            ok = False
        return bool(ok and row)

    def change_password(self, name: str, old: str, new: str) -> None:
        """Set a new password after checking the old one; other sessions of the user become invalid."""
        if not self.verify(name, old):
            raise PasswordPolicyError("the current password is wrong")
        if secrets.compare_digest(old, new):
            raise PasswordPolicyError("the new password must differ from the current one")
        check_password_policy(new, name=name)
        with self._run(write=True) as run:
            run(
                "UPDATE {users} SET hash = ?, must_change = 0, version = version + 1 WHERE name = ?",
                self._hasher.hash(new),
                name,
            )

    # --- throttling ------------------------------------------------------------------------------
    def locked_for(self, keys: Iterable[str]) -> float:
        """Seconds until every key may try again (0 when none is locked)."""
        now = self.clock()
        keys = list(keys)
        with self._run() as run:
            rows = run(f"SELECT locked_until FROM {{failures}} WHERE key IN ({','.join('?' * len(keys))})", *keys)
            until = [float(u) for (u,) in rows.fetchall()]
        return max([0.0] + [u - now for u in until])

    def record_failure(self, keys: Iterable[str]) -> None:
        """Count one more failure for each key (atomically: concurrent processes never lose a count) and
        lock the key out for the throttle's back-off once it has too many."""
        now = self.clock()
        with self._run(write=True) as run:
            for key in keys:
                (count,) = run(
                    "INSERT INTO {failures} AS f (key, count, locked_until) VALUES (?, 1, 0) "
                    "ON CONFLICT (key) DO UPDATE SET count = f.count + 1 RETURNING count",
                    key,
                ).fetchone()
                backoff = self.throttle.backoff(int(count))
                run("UPDATE {failures} SET locked_until = ? WHERE key = ?", now + backoff if backoff else 0.0, key)

    def clear_failures(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        with self._run(write=True) as run:
            run(f"DELETE FROM {{failures}} WHERE key IN ({','.join('?' * len(keys))})", *keys)

    # --- the Flask secret key --------------------------------------------------------------------
    def secret_key(self) -> str:
        """A random key made once and kept, so sessions survive restarts and hold across workers."""
        with self._run(write=True) as run:
            run(
                "INSERT INTO {meta} (key, value) VALUES ('secret_key', ?) ON CONFLICT (key) DO NOTHING",
                secrets.token_hex(32),
            )
            (value,) = run("SELECT value FROM {meta} WHERE key = 'secret_key'").fetchone()
        return str(value)


def check_password_policy(password: str, *, name: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordPolicyError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if password.lower() == name.lower():
        raise PasswordPolicyError("the password must not be the user name")
