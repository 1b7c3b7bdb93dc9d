"""Glue between the ``shoplens`` package and the Dash app in ``dash-app/`` (``pip install shoplens[dashboard]``).

The app lives in ``dash-app/`` (pages, components, data layer, assets), next to ``python/`` in a checkout
and copied into the wheel by maturin (``[tool.maturin] include``). This module finds that folder, imports it
as the package ``shoplens_dash`` and starts it under gunicorn for ``shoplens serve``.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from shoplens.errors import InvalidArgumentError, MissingFileError

__all__ = ["app_dir", "create_app", "load", "methodology_path", "serve"]

PACKAGE = "shoplens_dash"

#: The dashboard's log when it serves PostgreSQL and no ``log_file`` is given (there is no folder to put
#: it beside): in the working directory.
DEFAULT_PG_LOG = "shoplens-dashboard.log"


def _candidates(name: str) -> list[Path]:
    here = Path(__file__).resolve().parent  # .../python/shoplens (checkout) or site-packages/shoplens (wheel)
    return [here / "_data" / name, here.parent.parent / name, here.parent / name]


def app_dir() -> Path:
    """The ``dash-app`` folder (in the wheel: ``shoplens/_data/dash-app``; in a checkout: the repo's)."""
    override = os.environ.get("SHOPLENS_DASH_APP")
    for folder in [Path(override)] if override else _candidates("dash-app"):
        if (folder / "app.py").is_file():
            return folder
    raise MissingFileError(
        "the dashboard is not installed: install shoplens[dashboard] (dash-app/ not found)",
        file="dash-app",
        line=0,
        rule="missing_file",
    )


def methodology_path() -> Path:
    """``docs/methodology.md`` (shipped in the wheel beside the app)."""
    for base in _candidates("docs"):
        if (base / "methodology.md").is_file():
            return base / "methodology.md"
    raise MissingFileError("docs/methodology.md not found", file="docs/methodology.md", line=0, rule="missing_file")


def load() -> ModuleType:
    """Import ``dash-app/`` as the package :data:`PACKAGE` (once per process)."""
    if PACKAGE in sys.modules:
        return sys.modules[PACKAGE]
    folder = app_dir()
    spec = importlib.util.spec_from_file_location(
        PACKAGE, folder / "__init__.py", submodule_search_locations=[str(folder)]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[PACKAGE] = module
    spec.loader.exec_module(module)
    return module


def create_app(warehouse: Any, **options: Any) -> Any:
    """Build the Dash app for a warehouse folder or a ``postgresql://`` URL (see
    ``shoplens_dash.app.create_app`` for the options; ``auth_db`` a users file or a ``postgresql://`` URL)."""
    load()
    from shoplens_dash.app import create_app as factory  # type: ignore[import-not-found]

    return factory(warehouse, **options)


def default_auth_db(warehouse: Path) -> Path:
    """The users file beside the warehouse folder (the folder itself is replaced by every build)."""
    return warehouse.parent / f"{warehouse.name}.users.sqlite"


def _warm_worker(worker: Any) -> None:
    """gunicorn's post_worker_init hook: fill the worker's caches (the engine's KPI index of the events, the
    analyses every page shows) before it takes its first request. The worker tells the arbiter it is alive
    while it warms, so a large warehouse does not get it killed by gunicorn's timeout."""
    import threading

    warm = getattr(getattr(worker, "wsgi", None), "shoplens_warm", None)
    if warm is None:
        return
    done = threading.Event()

    def heartbeat() -> None:
        while not done.wait(1.0):
            worker.notify()

    beat = threading.Thread(target=heartbeat, name="shoplens-warm-heartbeat", daemon=True)
    beat.start()
    try:
        warm()
    finally:
        done.set()
        beat.join()


def serve(
    warehouse: str | os.PathLike[str] | None = None,
    *,
    database_url: str | None = None,
    host: str = "127.0.0.1",
    port: int = 8050,
    workers: int = 1,
    threads: int = 8,
    auth_db: str | os.PathLike[str] | None = None,
    log_file: str | os.PathLike[str] | None = None,
    behind_proxy: bool = False,
    secure_cookies: bool = False,
    rate_limit: str = "600 per minute",
    login_rate_limit: str = "30 per minute",
) -> None:
    """Serve the dashboard with gunicorn (threads; the engine releases the GIL).

    The data is a warehouse folder, or the last load of a PostgreSQL store (``database_url``, else
    ``$SHOPLENS_DATABASE_URL`` when no folder is given). Users: beside a folder, the users file
    ``WAREHOUSE.users.sqlite``; with PostgreSQL, the store's ``shoplens.dashboard_users`` table (migration
    0006; ``auth_db`` chooses a users file instead). The JSON log goes to ``log_file``, by default
    ``WAREHOUSE.dashboard.log`` beside a folder and ``./shoplens-dashboard.log`` with PostgreSQL. Prints the
    one-time admin password when there is no user yet."""
    if warehouse is not None and database_url is not None:
        raise InvalidArgumentError("serve takes --warehouse or --database-url, not both")
    if warehouse is None and database_url is None:
        from shoplens.db import URL_ENV

        database_url = os.environ.get(URL_ENV) or None
        if database_url is None:
            raise InvalidArgumentError(f"serve needs --warehouse or --database-url (or ${URL_ENV})")
    source: str | Path
    auth: str | Path
    load()
    if database_url is not None:
        from shoplens_dash.data import last_load_id  # type: ignore[import-not-found]

        # Fail early (unreachable, not migrated, nothing loaded), through psycopg: this process becomes
        # gunicorn's arbiter and must not start the engine's database runtime, whose threads a forked
        # worker would not have (the workers open the store themselves).
        last_load_id(database_url)
        source = database_url
        auth = Path(auth_db) if auth_db else database_url
        log = Path(log_file) if log_file else Path(DEFAULT_PG_LOG)
    else:
        assert warehouse is not None
        wh = Path(warehouse)
        import shoplens

        shoplens.open_warehouse(wh)  # fail early, with exit status 2, on a wrong path
        source = wh
        auth = Path(auth_db) if auth_db else default_auth_db(wh)
        log = Path(log_file) if log_file else wh.parent / f"{wh.name}.dashboard.log"
    from gunicorn.app.base import BaseApplication
    from shoplens_dash.auth_store import AuthStore  # type: ignore[import-not-found]

    users = AuthStore(auth)
    password = users.ensure_admin()
    if password is not None:
        # Printed once, to the terminal only (never logged): the first login must change it.
        print(f"shoplens: created user 'admin' with one-time password: {password}", file=sys.stderr, flush=True)
    print(f"shoplens: dashboard on http://{host}:{port}/ (users {users}, log {log})", file=sys.stderr, flush=True)
    users.close()  # gunicorn forks the workers from this process: they open their own connections

    options = dict(
        warehouse=source,
        auth_db=auth,
        log_file=log,
        behind_proxy=behind_proxy,
        secure_cookies=secure_cookies,
        rate_limit=rate_limit,
        login_rate_limit=login_rate_limit,
    )

    class _Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("threads", threads)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("timeout", 120)
            self.cfg.set("accesslog", None)  # the app writes its own JSON request log
            self.cfg.set("proc_name", "shoplens-dashboard")
            self.cfg.set("post_worker_init", _warm_worker)

        def load(self) -> Any:
            return create_app(**options).server

    _Server().run()
