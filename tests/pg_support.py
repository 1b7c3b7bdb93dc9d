"""The test PostgreSQL server: URL, psql helper and a database of its own per test or session.

The server is SHOPLENS_TEST_DATABASE_URL, else the build machines' local one (127.0.0.1:5432, user
postgres, trust auth; `.ci/run` starts it when it is stopped). When it is unreachable the tests fail
with the reason: a missing server is a broken setup, never a pass.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn
from urllib.parse import unquote, urlsplit, urlunsplit

import pytest

DEFAULT_TEST_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def admin_url() -> str:
    return os.environ.get("SHOPLENS_TEST_DATABASE_URL", DEFAULT_TEST_URL)


def pg_env(url: str, **extra: str) -> dict[str, str]:
    """libpq environment for ``url`` (psql and the job scripts take their connection from it)."""
    parts = urlsplit(url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(PGHOST=parts.hostname or "127.0.0.1", PGPORT=str(parts.port or 5432), PGCONNECT_TIMEOUT="5")
    env.update(PGUSER=unquote(parts.username or "postgres"), PGDATABASE=parts.path.lstrip("/") or "postgres")
    if parts.password:
        env["PGPASSWORD"] = unquote(parts.password)
    env.update(extra)
    return env


def psql(url: str, sql: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-A", "-F", "\t", "-P", "footer=off", "-t"],
        input=sql,
        capture_output=True,
        text=True,
        check=False,
        env=pg_env(url, **extra),
        timeout=120,
    )


def require_server() -> str:
    """The admin URL of a reachable server, or fail with the reason."""
    admin = admin_url()
    probe = psql(admin, "SELECT 1;") if shutil.which("psql") else None
    if probe is None or probe.returncode != 0:
        unavailable(f"PostgreSQL at {admin} is unreachable: {probe.stderr.strip() if probe else 'no psql'}")
    return admin


def unavailable(reason: str) -> NoReturn:
    """Fail a test whose setup this machine lacks, with the reason: `make test` (and `.ci/run`, which starts
    the local PostgreSQL) provides everything the tests need, so a missing part is a failure, never a skip.
    Point the tests at another server with SHOPLENS_TEST_DATABASE_URL."""
    pytest.fail(f"{reason} (the tests need it: see SHOPLENS_TEST_DATABASE_URL and .ci/run)")


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


@contextmanager
def own_database(prefix: str) -> Iterator[tuple[str, str]]:
    """(admin URL, URL of a new database with a random name), dropped on exit."""
    admin = require_server()
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"
    created = psql(admin, f'CREATE DATABASE "{name}";')
    assert created.returncode == 0, created.stderr
    try:
        yield admin, with_database(admin, name)
    finally:
        psql(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE);')
