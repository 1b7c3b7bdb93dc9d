"""Load test of the dashboard: N logged-in users, each changing filters for S seconds.

Starts the real server (``shoplens serve``, gunicorn), creates N user accounts (each with its own session,
so per-user rate limits apply as in production), signs every user in over HTTP (CSRF token included) and then
has each user send Dash callback requests (``/_dash-update-component``): the callbacks of one filter change
at once (as the browser fires them), then a pause while the person reads the page (``--think``: seconds,
drawn uniformly from 0.5x to 1.5x, as locust's ``between``; 0 = no pause, every user a closed loop that
measures the server's saturation throughput rather than the latency people see).

Scenario ``home`` (default): each request is Home's filter callback with a new filter drawn from a seeded
generator per user: a date window (7, 14 or 28 days, or the whole range) at a random start, weekday/weekend,
root category, segment, bots in or out; most filters are new to the server, so its per-filter cache rarely
answers and the engine computes the cards, the previous period and the charts. Scenario ``input``: change
one input (``--input ID.prop``), cycling through ``--values``. Reports requests/s, latency percentiles and errors.

Not a test: run ``make loadtest`` (or ``python bench/dashboard_load.py --warehouse W``) and copy the line
into ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import random
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

    def twin(self) -> Client:
        """A second connection of the same signed-in user (same cookies), as a browser opens."""
        other = Client(self.conn.host, self.conn.port)
        other.cookies = dict(self.cookies)
        return other

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


def find_callbacks(deps: list[dict[str, Any]], input_id: str, prop: str) -> list[dict[str, Any]]:
    """Every callback the browser fires when ``input_id.prop`` changes."""
    found = [cb for cb in deps if any(i["id"] == input_id and i["property"] == prop for i in cb["inputs"])]
    if not found:
        raise SystemExit(f"no callback has the input {input_id}.{prop}")
    return found


def label(cb: dict[str, Any]) -> str:
    """A short name for a callback: its first output's component id."""
    spec = cb["output"]
    return (spec[2:] if spec.startswith("..") else spec).split(".", 1)[0]


def payload(cb: dict[str, Any], values: dict[str, Any], changed: str, theme: str = "light") -> bytes:
    """A callback request with ``values`` ({"id.prop": value}; other inputs None, the theme ``theme``)."""
    # Dash's multi-output id: "..a.prop...b.prop.." (outputs joined by "...", wrapped in "..").
    spec = cb["output"]
    parts = spec[2:-2].split("...") if spec.startswith("..") else [spec]
    outputs = [dict(zip(("id", "property"), o.rsplit(".", 1), strict=True)) for o in parts]
    inputs = []
    for inp in cb["inputs"]:
        key = f"{inp['id']}.{inp['property']}"
        v = values.get(key, theme if inp["id"] == "theme-store" else None)
        inputs.append({"id": inp["id"], "property": inp["property"], "value": v})
    body = {
        "output": cb["output"],
        "outputs": outputs if len(outputs) > 1 else outputs[0],
        "inputs": inputs,
        "state": [{"id": s["id"], "property": s["property"]} for s in cb.get("state", [])],
        "changedPropIds": [changed],
    }
    return json.dumps(body).encode()


class HomeFilters:
    """Seeded stream of Home filters for one user (the widgets' values as the browser sends them)."""

    KEYS = ("start_date", "end_date", "days", "root", "segment", "bots")

    def __init__(self, seed: int, first: dt.date, last: dt.date, roots: list[int]) -> None:
        self.rng = random.Random(seed)
        self.first, self.last, self.roots = first, last, roots

    def __call__(self) -> tuple[dict[str, Any], str]:
        r = self.rng
        span = (self.last - self.first).days + 1
        length = r.choice([7, 14, 28, span])
        start = self.first + dt.timedelta(days=r.randrange(max(1, span - length + 1)))
        end = min(self.last, start + dt.timedelta(days=length - 1))
        values = {
            "home-dates.start_date": start.isoformat(),
            "home-dates.end_date": end.isoformat(),
            "home-days.value": r.choice(["all", "weekdays", "weekends"]),
            "home-root.value": r.choice([None, *self.roots]) if r.random() < 0.3 else None,
            "home-segment.value": r.choice(["all", "all", "new", "returning", "churned"]),
            "home-bots.value": r.random() < 0.2,
        }
        changed = r.choice(["home-days.value", "home-dates.start_date", "home-bots.value", "home-segment.value"])
        return values, changed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--warehouse", type=Path, required=True)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--threads", type=int, default=16, help="server threads per worker")
    parser.add_argument("--workers", type=int, default=1, help="server worker processes")
    parser.add_argument("--scenario", choices=["home", "input"], default="home")
    parser.add_argument("--input", default="exp-select.value", help="scenario input: the input changed (ID.prop)")
    parser.add_argument("--values", default="", help="scenario input: comma-separated values to cycle")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--think", type=float, default=2.0, help="mean pause between a user's filter changes, s (0: none)"
    )
    args = parser.parse_args()
    input_id, prop = ("home-days", "value") if args.scenario == "home" else args.input.rsplit(".", 1)

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
            # Each worker warmed its caches (KPI index, every page's layout data) before serving: report it.
            warmed = [json.loads(line) for line in server.log_file.read_text().splitlines() if "caches warm" in line]
            print("server start-up: " + "; ".join(w["detail"] for w in warmed), flush=True)
            warm = Client(host, port)
            warm.login("load000", PASSWORD)
            t0 = time.perf_counter()
            warm.request("GET", "/_dash-layout")
            print(f"first request: {time.perf_counter() - t0:.2f} s", flush=True)
            clients = [Client(host, port) for _ in range(args.users)]
            for i, c in enumerate(clients):
                c.login(f"load{i:03d}", PASSWORD)
            status, deps_raw, _ = clients[0].request("GET", "/_dash-dependencies")
            assert status == 200
            cbs = find_callbacks(json.loads(deps_raw), input_id, prop)
            from shoplens_dash.data import open_source  # type: ignore[import-not-found]

            source = open_source(args.warehouse)
            values: list[Any] = []
            if args.scenario == "home":
                first, last = source.date_bounds()
                roots = source.root_categories()
                streams = [HomeFilters(args.seed * 1000 + k, first, last, roots) for k in range(args.users)]
            elif args.values:
                values = args.values.split(",")
            else:
                values = source.experiments()["experiment"].to_list()

            def next_change(k: int, j: int) -> list[tuple[str, bytes]]:
                """The requests one filter change makes (one per callback listening to the filter)."""
                if args.scenario == "home":
                    vals, changed = streams[k]()
                    sent.add(json.dumps(vals, sort_keys=True))
                else:
                    changed = f"{input_id}.{prop}"
                    vals = {changed: values[j % len(values)]}
                return [(label(cb), payload(cb, vals, changed)) for cb in cbs]

            sent: set[str] = set()
            latencies: list[tuple[str, float]] = []
            errors: list[str] = []
            lock = threading.Lock()
            stop_at = time.perf_counter() + args.seconds

            def send(c: Client, name: str, body: bytes, mine: list[tuple[str, float]], errs: list[str]) -> None:
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
                    return
                mine.append((name, time.perf_counter() - t0))
                if st not in (200, 204):
                    errs.append(str(st))

            def user(k: int) -> None:
                # One connection per callback of a change (the browser sends them in parallel).
                conns = [clients[k], *(clients[k].twin() for _ in cbs[1:])]
                pause = random.Random(args.seed * 7919 + k)
                j = k
                mine: list[tuple[str, float]] = []
                errs: list[str] = []
                if args.think > 0:  # users do not start in lockstep
                    time.sleep(pause.uniform(0, args.think))
                while time.perf_counter() < stop_at:
                    requests = next_change(k, j)
                    j += 1
                    sends = [
                        threading.Thread(target=send, args=(c, name, body, mine, errs))
                        for c, (name, body) in zip(conns, requests, strict=True)
                    ]
                    for t in sends:
                        t.start()
                    for t in sends:
                        t.join()
                    if args.think > 0:
                        time.sleep(pause.uniform(0.5 * args.think, 1.5 * args.think))
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
            if errors:  # the server's own account of what failed (its JSON log and stderr)
                log_lines = server.log_file.read_text().splitlines()
                bad = [line for line in log_lines if '"level": "ERROR"' in line or '"status": 5' in line]
                stderr = (Path(tmp) / "serve.stderr").read_text().splitlines()
                print("server errors:", *bad[:5], *[line for line in stderr if "Error" in line][:10], sep="\n  ")
    what = f"Home filters ({len(sent)} distinct)" if args.scenario == "home" else f"{args.input} ({len(values)} values)"
    print(
        f"{args.users} users x {args.seconds:.0f} s changing {what}, think time {args.think:g} s, "
        f"server {args.workers} worker(s) x "
        f"{args.threads} threads: {len(latencies)} callbacks, {len(latencies) / elapsed:.1f} req/s, "
        f"errors {len(errors)}" + (f" ({', '.join(sorted(set(errors)))})" if errors else "")
    )
    for name in [*sorted({n for n, _ in latencies}), "all"]:
        ms = sorted(x * 1000 for n, x in latencies if name in (n, "all"))
        q = statistics.quantiles(ms, n=100) if len(ms) > 1 else [float("nan")] * 99
        print(
            f"  {name}: {len(ms)} callbacks, {len(ms) / elapsed:.1f} req/s, p50 {q[49]:.0f} ms, p95 {q[94]:.0f} ms, "
            f"max {ms[-1] if ms else float('nan'):.0f} ms"
        )


if __name__ == "__main__":
    main()
