"""Drive the dashboard in real headless Chromium (the system's ``chromium`` through Playwright for Python).

Shared by the browser tests and by ``make screenshots`` (``python tests/dash_browser.py screenshots``), so
the screenshots in ``docs/screenshots/`` are taken by the same code the tests check.
The server is the real one: ``python -m shoplens serve`` (gunicorn), started as a subprocess.
"""

from __future__ import annotations

import argparse
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _pages() -> dict[str, str]:
    """URL path -> screenshot name of every page, in menu order (from the app's own page list)."""
    from shoplens.dashboard import load

    load()
    from shoplens_dash import app  # type: ignore[import-not-found]

    return {m.PATH: f"{i + 1:02d}-{m.NAME.lower().replace(' ', '-')}" for i, m in enumerate(app.PAGES)}


PAGES = _pages()
NEW_PASSWORD = "correct-horse-battery-staple"
VIEWPORT = {"width": 1440, "height": 900}


def chromium_path() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        raise RuntimeError("no chromium on PATH: run `make browser` (apt-get install chromium)")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """A ``shoplens serve`` process and the one-time admin password it printed."""

    process: subprocess.Popen[Any]
    base: str
    password: str
    log_file: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextmanager
def serve(
    warehouse: Path, workdir: Path, *, threads: int = 8, workers: int = 1, extra: list[str] | None = None
) -> Iterator[Server]:
    port = free_port()
    log_file = workdir / "dashboard.log"
    cmd = [
        sys.executable,
        "-m",
        "shoplens",
        "serve",
        "--warehouse",
        str(warehouse),
        "--port",
        str(port),
        "--users-file",
        str(workdir / "users.sqlite"),
        "--log-file",
        str(log_file),
        "--threads",
        str(threads),
        "--workers",
        str(workers),
        *(extra or []),
    ]
    # stderr goes to a file (a pipe nobody reads could fill and block the server).
    err_path = workdir / "serve.stderr"
    with open(err_path, "w") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, text=True)
    password = ""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        text = err_path.read_text()
        m = re.search(r"one-time password: (\S+)", text)
        if m:
            password = m.group(1)
        if "dashboard on http" in text:
            break
        if proc.poll() is not None:
            raise RuntimeError(f"shoplens serve exited with {proc.returncode}: {text[-2000:]}")
        time.sleep(0.1)
    base = f"http://127.0.0.1:{port}"
    server = Server(proc, base, password, log_file)
    try:
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.2)
        else:
            raise RuntimeError("the dashboard did not answer /healthz in time")
        yield server
    finally:
        server.stop()


@contextmanager
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@dataclass
class Watched:
    """A page with its console errors, uncaught exceptions and failed callback responses recorded."""

    page: Any
    console_errors: list[str] = field(default_factory=list)
    callback_failures: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        return self.console_errors + self.callback_failures


def watched_page(b: Any) -> Watched:
    page = b.new_page(viewport=VIEWPORT)
    w = Watched(page)
    page.on("console", lambda msg: w.console_errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: w.console_errors.append(f"uncaught: {exc}"))

    def on_response(response: Any) -> None:
        if "/_dash-" in response.url and response.status >= 400:
            w.callback_failures.append(f"{response.status} {response.url}")

    page.on("response", on_response)
    return w


def sign_in(page: Any, base: str, user: str, password: str, *, new_password: str | None = None) -> None:
    page.goto(base + "/login")
    page.fill("#username", user)
    page.fill("#password", password)
    page.click("#login-submit")
    page.wait_for_load_state("networkidle")
    if new_password is not None and page.url.endswith("/account/password"):
        page.fill("#current", password)
        page.fill("#new", new_password)
        page.fill("#confirm", new_password)
        page.click("#password-submit")
        page.wait_for_load_state("networkidle")


def settle(page: Any, timeout_ms: int = 60_000) -> None:
    """Wait until Dash has rendered and no callback or loading spinner is pending."""
    page.wait_for_selector("#_pages_content", timeout=timeout_ms)
    page.wait_for_load_state("networkidle", timeout=timeout_ms)
    page.wait_for_function(
        "() => !document.querySelector('[data-dash-is-loading=\"true\"]') && !document.querySelector('._dash-loading')",
        timeout=timeout_ms,
    )


def charts(page: Any) -> list[dict[str, Any]]:
    """Every Plotly chart on the page: its component id, traces and data points."""
    result: list[dict[str, Any]] = page.eval_on_selector_all(
        ".js-plotly-plot",
        """els => els.map(e => ({
            id: (e.closest('.dash-graph') || e).id,
            traces: (e.data || []).length,
            points: (e.data || []).reduce((n, t) => n + ((t.x || t.y || t.z || t.values || []).length || 0), 0),
        }))""",
    )
    return result


def visit(page: Any, base: str, path: str) -> None:
    page.goto(base + path)
    settle(page)


def screenshots(warehouse: Path, out: Path, workdir: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with serve(warehouse, workdir) as server, browser() as b:
        w = watched_page(b)
        sign_in(w.page, server.base, "admin", server.password, new_password=NEW_PASSWORD)
        for path, name in PAGES.items():
            visit(w.page, server.base, path)
            target = out / f"{name}.png"
            w.page.screenshot(path=str(target), full_page=False)
            written.append(target)
        if w.problems():
            raise RuntimeError(f"browser problems while taking screenshots: {w.problems()}")
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    shots = sub.add_parser("screenshots", help="one 1440x900 PNG per page")
    shots.add_argument("--warehouse", type=Path, required=True)
    shots.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    args = parser.parse_args()
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        for path in screenshots(args.warehouse, args.out, Path(tmp)):
            print(path)


if __name__ == "__main__":
    main()
