"""Load test of the dashboard: N logged-in users, each changing an input for S seconds.

Starts the real server (``shoplens serve``, gunicorn), creates N user accounts (each with its own session,
so per-user rate limits apply as in production), signs every user in over HTTP (CSRF token included) and then
has each user send Dash callback requests (``/_dash-update-component``) that change one input, cycling
through values, as fast as the server answers. Reports requests/s, latency percentiles and errors.

Not a test: run ``make loadtest`` (or ``python bench/dashboard_load.py --warehouse W``) and copy the line
into ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from dash_browser import serve

PASSWORD = "load-test-password-0123"


class Client:
    """One user: a keep-alive connection and its cookies."""

    def __init__(self, host: str, port: int) -> None:
        self.conn = http.client.HTTPConnection(host, port, timeout=900)
        self.cookies: dict[str, str] = {}

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes, Any]:
        h = dict(headers or {})
        if self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        try:
            self.conn.request(method, path, body=body, headers=h)
            r = self.conn.getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            # The server closed an idle keep-alive connection (gunicorn's keepalive): reconnect, as a browser does.
            self.conn.close()
            self.conn.request(method, path, body=body, headers=h)
            r = self.conn.getresponse()
        data = r.read()
        for header in r.headers.get_all("Set-Cookie") or []:
            c: SimpleCookie = SimpleCookie()
            c.load(header)
            for k, morsel in c.items():
                self.cookies[k] = morsel.value
        return r.status, data, r.headers

    def login(self, user: str, password: str) -> None:
        _, page, _ = self.request("GET", "/login")
        token = re.search(rb'name="csrf_token" value="([^"]+)"', page)
        assert token, "no CSRF token on the login page"
        form = urllib.parse.urlencode(
            {"csrf_token": token.group(1).decode(), "username": user, "password": password, "next": "/"}
        ).encode()
        status, _, _ = self.request("POST", "/login", form, {"Content-Type": "application/x-www-form-urlencoded"})
        if status != 302:
            raise RuntimeError(f"login of {user} failed with HTTP {status}")


def find_callback(deps: list[dict[str, Any]], input_id: str, prop: str) -> dict[str, Any]:
    for cb in deps:
        if any(i["id"] == input_id and i["property"] == prop for i in cb["inputs"]):
            return cb
    raise SystemExit(f"no callback has the input {input_id}.{prop}")


def payload(cb: dict[str, Any], input_id: str, prop: str, value: Any, theme: str = "light") -> bytes:
    # Dash's multi-output id: "..a.prop...b.prop.." (outputs joined by "...", wrapped in "..").
    spec = cb["output"]
    parts = spec[2:-2].split("...") if spec.startswith("..") else [spec]
    outputs = [dict(zip(("id", "property"), o.rsplit(".", 1), strict=True)) for o in parts]
    inputs = []
    for inp in cb["inputs"]:
        v = (
            value
            if (inp["id"], inp["property"]) == (input_id, prop)
            else (theme if inp["id"] == "theme-store" else None)
        )
        inputs.append({"id": inp["id"], "property": inp["property"], "value": v})
    body = {
        "output": cb["output"],
        "outputs": outputs if len(outputs) > 1 else outputs[0],
        "inputs": inputs,
        "state": [{"id": s["id"], "property": s["property"]} for s in cb.get("state", [])],
        "changedPropIds": [f"{input_id}.{prop}"],
    }
    return json.dumps(body).encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--warehouse", type=Path, required=True)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--threads", type=int, default=16, help="server threads per worker")
    parser.add_argument("--workers", type=int, default=1, help="server worker processes")
    parser.add_argument("--input", default="exp-select.value", help="the input each user changes (ID.prop)")
    parser.add_argument("--values", default="", help="comma-separated values to cycle (default: the dropdown's)")
    args = parser.parse_args()
    input_id, prop = args.input.rsplit(".", 1)

    from shoplens.dashboard import load

    load()
    from shoplens_dash.auth_store import AuthStore  # type: ignore[import-not-found]

    with tempfile.TemporaryDirectory() as tmp:
        store = AuthStore(Path(tmp) / "users.sqlite")
        for i in range(args.users):
            store.add_user(f"load{i:03d}", PASSWORD, must_change=False)
        # All simulated users sign in from one address: lift the per-address sign-in limit for the run.
        extra = ["--login-rate-limit", f"{10 * args.users} per minute"]
        with serve(args.warehouse, Path(tmp), threads=args.threads, workers=args.workers, extra=extra) as server:
            host, port = "127.0.0.1", int(server.base.rsplit(":", 1)[1])
            # Warm-up (not measured): the first request builds every page's layout once (experiment analysis
            # and baseline of the whole warehouse), then the caches answer.
            warm = Client(host, port)
            warm.login("load000", PASSWORD)
            t0 = time.perf_counter()
            warm.request("GET", "/_dash-layout")
            print(
                f"warm-up (first request: all page layouts, cached reads): {time.perf_counter() - t0:.1f} s", flush=True
            )
            clients = [Client(host, port) for _ in range(args.users)]
            for i, c in enumerate(clients):
                c.login(f"load{i:03d}", PASSWORD)
            status, deps_raw, _ = clients[0].request("GET", "/_dash-dependencies")
            assert status == 200
            cb = find_callback(json.loads(deps_raw), input_id, prop)
            if args.values:
                values: list[Any] = args.values.split(",")
            else:
                from shoplens_dash.data import DataSource  # type: ignore[import-not-found]

                values = DataSource(args.warehouse).experiments()["experiment"].to_list()
            latencies: list[float] = []
            errors: list[str] = []
            lock = threading.Lock()
            stop_at = time.perf_counter() + args.seconds

            def user(k: int) -> None:
                c = clients[k]
                j = k
                mine, errs = [], []
                while time.perf_counter() < stop_at:
                    body = payload(cb, input_id, prop, values[j % len(values)])
                    j += 1
                    t0 = time.perf_counter()
                    try:
                        st, _, _ = c.request(
                            "POST",
                            "/_dash-update-component",
                            body,
                            {"Content-Type": "application/json", "X-CSRFToken": c.cookies.get("_csrf_token", "")},
                        )
                    except (OSError, http.client.HTTPException) as exc:
                        errs.append(type(exc).__name__)
                        c.conn.close()
                        continue
                    mine.append(time.perf_counter() - t0)
                    if st not in (200, 204):
                        errs.append(str(st))
                with lock:
                    latencies.extend(mine)
                    errors.extend(errs)

            started = time.perf_counter()
            threads = [threading.Thread(target=user, args=(k,)) for k in range(args.users)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.perf_counter() - started
    ms = sorted(x * 1000 for x in latencies)
    q = statistics.quantiles(ms, n=100) if len(ms) > 1 else [float("nan")] * 99
    print(
        f"{args.users} users x {args.seconds:.0f} s changing {args.input} ({len(values)} values), server "
        f"{args.workers} worker(s) x {args.threads} threads: {len(ms)} callbacks, {len(ms) / elapsed:.1f} req/s, "
        f"p50 {q[49]:.0f} ms, p95 {q[94]:.0f} ms, max {ms[-1] if ms else float('nan'):.0f} ms, errors {len(errors)}"
        + (f" ({', '.join(sorted(set(errors)))})" if errors else "")
    )


if __name__ == "__main__":
    main()
