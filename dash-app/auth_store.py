"""Users, password hashes and login throttling, in one SQLite file (mode 0600) beside the warehouse.

SQLite rather than an in-memory dict: gunicorn workers are separate processes, and the lock-out of an
account or an address must hold across all of them (and across restarts).

Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106 low-memory profile). There are no
default credentials: :meth:`AuthStore.ensure_admin` creates ``admin`` with a random one-time password
that must be changed at first login.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

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


class AuthStore:
    """The users file. ``clock`` is injectable so tests can let a back-off expire."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        throttle: Throttle | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        self.throttle = throttle or Throttle()
        self.clock = clock
        self._hasher = PasswordHasher()
        # A real hash to verify against when the user does not exist, so a missing account costs the
        # same time as a wrong password (no user enumeration by timing).
        self._dummy = self._hasher.hash(secrets.token_urlsafe(16))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        os.close(fd)
        os.chmod(self.path, 0o600)
        with self._connect() as db:
            db.executescript(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # Autocommit mode: each statement commits unless inside an explicit BEGIN; always closed.
        db = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
        try:
            yield db
        finally:
            db.close()

    # --- users -----------------------------------------------------------------------------------
    def ensure_admin(self) -> str | None:
        """Create ``admin`` with a random one-time password when there is no user; return that password
        (to print once), or None when users exist."""
        password = secrets.token_urlsafe(15)
        digest = self._hasher.hash(password)
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                (count,) = db.execute("SELECT count(*) FROM users").fetchone()
                if count:
                    db.execute("ROLLBACK")
                    return None
                db.execute("INSERT INTO users (name, hash, must_change) VALUES (?, ?, 1)", ("admin", digest))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return password

    def add_user(self, name: str, password: str, *, must_change: bool = True) -> None:
        check_password_policy(password, name=name)
        with self._connect() as db:
            db.execute(
                "INSERT INTO users (name, hash, must_change) VALUES (?, ?, ?)",
                (name, self._hasher.hash(password), int(must_change)),
            )

    def user(self, name: str) -> User | None:
        with self._connect() as db:
            row = db.execute("SELECT name, must_change, version FROM users WHERE name = ?", (name,)).fetchone()
        return None if row is None else User(row[0], bool(row[1]), int(row[2]))

    def verify(self, name: str, password: str) -> bool:
        with self._connect() as db:
            row = db.execute("SELECT hash FROM users WHERE name = ?", (name,)).fetchone()
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
        with self._connect() as db:
            db.execute(
                "UPDATE users SET hash = ?, must_change = 0, version = version + 1 WHERE name = ?",
                (self._hasher.hash(new), name),
            )

    # --- throttling ------------------------------------------------------------------------------
    def locked_for(self, keys: Iterable[str]) -> float:
        """Seconds until every key may try again (0 when none is locked)."""
        now = self.clock()
        keys = list(keys)
        with self._connect() as db:
            rows = db.execute(
                f"SELECT locked_until FROM failures WHERE key IN ({','.join('?' * len(keys))})", keys
            ).fetchall()
        return max([0.0] + [until - now for (until,) in rows])

    def record_failure(self, keys: Iterable[str]) -> None:
        now = self.clock()
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            for key in keys:
                row = db.execute("SELECT count FROM failures WHERE key = ?", (key,)).fetchone()
                count = (row[0] if row else 0) + 1
                backoff = self.throttle.backoff(count)
                db.execute(
                    "INSERT INTO failures (key, count, locked_until) VALUES (?, ?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET count = excluded.count, locked_until = excluded.locked_until",
                    (key, count, now + backoff if backoff else 0.0),
                )
            db.execute("COMMIT")

    def clear_failures(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        with self._connect() as db:
            db.execute(f"DELETE FROM failures WHERE key IN ({','.join('?' * len(keys))})", keys)

    # --- the Flask secret key --------------------------------------------------------------------
    def secret_key(self) -> str:
        """A random key made once and kept, so sessions survive restarts and hold across workers."""
        with self._connect() as db:
            db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('secret_key', ?)", (secrets.token_hex(32),))
            (value,) = db.execute("SELECT value FROM meta WHERE key = 'secret_key'").fetchone()
        return str(value)


def check_password_policy(password: str, *, name: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordPolicyError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if password.lower() == name.lower():
        raise PasswordPolicyError("the password must not be the user name")
