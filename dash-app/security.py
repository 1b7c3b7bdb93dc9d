"""Authentication, CSRF, rate limits, security headers and request logs on the dashboard's Flask server.

Installed on the Flask app *before* Dash attaches its routes, so the guard runs first on every request,
Dash's ``/_dash-*`` endpoints and component suites included. Only the login form, the Bootstrap stylesheet
it uses and ``/healthz`` are public.

- Sessions: Flask's signed cookie (HttpOnly, SameSite=Lax, Secure behind TLS) holding the user, the
  password version (a password change ends every other session) and a CSRF token.
- CSRF: forms carry the token in a hidden field; Dash's renderer sends the ``_csrf_token`` cookie back in
  the ``X-CSRFToken`` header (Dash's own double-submit convention); every POST must match the session.
- Throttling (:mod:`auth_store`): per account and per address; a locked key refuses even the right
  password until its back-off expires. Rate limits (Flask-Limiter) cover every route, callbacks included.
"""

from __future__ import annotations

import html
import importlib.util
import logging
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import flask
from flask_limiter import Limiter
from werkzeug.middleware.proxy_fix import ProxyFix

from .auth_store import AuthStore, PasswordPolicyError
from .logs import event

PUBLIC_PATHS = frozenset({"/login", "/vendor/bootstrap.min.css", "/healthz"})
CSRF_COOKIE = "_csrf_token"  # the name Dash's renderer reads (Dash(csrf_token_name=...))
CSRF_HEADER = "X-CSRFToken"


def bootstrap_css_path() -> Path:
    """Bootstrap 5.3's stylesheet from the pinned Bootstrap-Flask package, found without importing it (no
    CDN is reachable, and the repository keeps no vendored copy)."""
    spec = importlib.util.find_spec("flask_bootstrap")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("Bootstrap-Flask is not installed: pip install shoplens[dashboard]")
    return Path(next(iter(spec.submodule_search_locations))) / "static" / "bootstrap5" / "css" / "bootstrap.min.css"


def _login_page(*, csrf: str, message: str = "", next_url: str = "/") -> str:
    alert = f'<div class="alert alert-danger" role="alert">{html.escape(message)}</div>' if message else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>shoplens - sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/vendor/bootstrap.min.css"></head>
<body class="bg-body-tertiary"><main class="container" style="max-width: 24rem; margin-top: 10vh">
<h1 class="h3 mb-3">shoplens</h1>{alert}
<form method="post" action="/login">
<input type="hidden" name="csrf_token" value="{html.escape(csrf)}">
<input type="hidden" name="next" value="{html.escape(next_url)}">
<div class="mb-3"><label class="form-label" for="username">User</label>
<input class="form-control" id="username" name="username" autocomplete="username" required></div>
<div class="mb-3"><label class="form-label" for="password">Password</label>
<input class="form-control" id="password" name="password" type="password" autocomplete="current-password"
 required></div>
<button class="btn btn-primary w-100" id="login-submit" type="submit">Sign in</button>
</form></main></body></html>"""


def _password_page(*, csrf: str, user: str, forced: bool, message: str = "") -> str:
    alert = f'<div class="alert alert-danger" role="alert">{html.escape(message)}</div>' if message else ""
    lead = (
        '<p class="text-body-secondary">This password was issued once; choose your own to continue.</p>'
        if forced
        else ""
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>shoplens - change password</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/vendor/bootstrap.min.css"></head>
<body class="bg-body-tertiary"><main class="container" style="max-width: 26rem; margin-top: 10vh">
<h1 class="h4 mb-3">Change the password of {html.escape(user)}</h1>{lead}{alert}
<form method="post" action="/account/password">
<input type="hidden" name="csrf_token" value="{html.escape(csrf)}">
<div class="mb-3"><label class="form-label" for="current">Current password</label>
<input class="form-control" id="current" name="current" type="password" autocomplete="current-password"
 required></div>
<div class="mb-3"><label class="form-label" for="new">New password (at least 12 characters)</label>
<input class="form-control" id="new" name="new" type="password" autocomplete="new-password" required></div>
<div class="mb-3"><label class="form-label" for="confirm">New password again</label>
<input class="form-control" id="confirm" name="confirm" type="password" autocomplete="new-password"
 required></div>
<button class="btn btn-primary w-100" id="password-submit" type="submit">Change password</button>
</form></main></body></html>"""


def _safe_next(target: str | None) -> str:
    """Only a local path (no scheme, no host, no ``//``) may be redirected to after login."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def content_security_policy(script_hashes: list[str]) -> str:
    """CSP that Dash works with: scripts only from this origin plus the hashes of Dash's inline scripts
    (the renderer bootstrap and clientside callbacks); styles allow inline (Plotly and React set them)."""
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self' " + " ".join(script_hashes),
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data: blob:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def install(
    server: flask.Flask,
    store: AuthStore,
    logger: logging.Logger,
    *,
    script_hashes: Callable[[], list[str]],
    secure_cookies: bool = False,
    behind_proxy: bool = False,
    rate_limit: str = "600 per minute",
    login_rate_limit: str = "30 per minute",
) -> Limiter:
    """Protect ``server``: call before Dash registers its routes on it."""
    if behind_proxy:
        # One trusted reverse proxy sets X-Forwarded-For/-Proto: remote address and https are its.
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=1, x_proto=1)  # type: ignore[method-assign]
    server.config.update(
        SECRET_KEY=store.secret_key(),
        SESSION_COOKIE_NAME="shoplens_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure_cookies,
        PERMANENT_SESSION_LIFETIME=8 * 3600,
        MAX_CONTENT_LENGTH=1 << 20,
        DEBUG=False,
        PROPAGATE_EXCEPTIONS=False,
    )

    def current_user() -> str | None:
        user = flask.session.get("user")
        if not user:
            return None
        record = store.user(user)
        if record is None or record.version != flask.session.get("pwv"):
            flask.session.clear()
            return None
        flask.g.must_change = record.must_change
        return str(user)

    def rate_key() -> str:
        user = flask.g.get("user")
        return f"user:{user}" if user else f"addr:{flask.request.remote_addr}"

    def csrf_token() -> str:
        token = flask.session.get("csrf")
        if not token:
            token = secrets.token_urlsafe(32)
            flask.session["csrf"] = token
        return str(token)

    def csrf_ok(sent: str | None) -> bool:
        expected = flask.session.get("csrf")
        return bool(expected and sent and secrets.compare_digest(str(expected), sent))

    @server.before_request
    def guard() -> Any:
        flask.g.started = time.perf_counter()
        flask.g.user = current_user()
        path = flask.request.path
        if path in PUBLIC_PATHS:
            return None
        if flask.g.user is None:
            wants_html = flask.request.method == "GET" and not path.startswith("/_")
            if wants_html:
                return flask.redirect(f"/login?next={flask.request.full_path.rstrip('?')}", code=302)
            return flask.jsonify(error="authentication required"), 401
        if flask.g.get("must_change") and path not in ("/account/password", "/logout"):
            if flask.request.method == "GET" and not path.startswith("/_"):
                return flask.redirect("/account/password", code=302)
            return flask.jsonify(error="password change required"), 403
        if flask.request.method not in ("GET", "HEAD", "OPTIONS"):
            sent = flask.request.headers.get(CSRF_HEADER) or flask.request.form.get("csrf_token")
            if not csrf_ok(sent):
                event(
                    logger,
                    "csrf_rejected",
                    level=logging.WARNING,
                    user=flask.g.user,
                    path=path,
                    remote_addr=flask.request.remote_addr,
                    outcome="refused",
                )
                return flask.jsonify(error="CSRF token missing or wrong"), 403
        return None

    @server.after_request
    def finish(response: flask.Response) -> flask.Response:
        h = response.headers
        h["Content-Security-Policy"] = content_security_policy(script_hashes())
        h["X-Frame-Options"] = "DENY"
        h["X-Content-Type-Options"] = "nosniff"
        h["Referrer-Policy"] = "same-origin"
        h["Cross-Origin-Opener-Policy"] = "same-origin"
        h["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=()"
        if secure_cookies:
            h["Strict-Transport-Security"] = "max-age=31536000"
        path = flask.request.path
        if not (
            path.startswith("/_dash-component-suites/") or path.startswith("/assets/") or path.startswith("/vendor/")
        ):
            h["Cache-Control"] = "no-store"
        user = flask.g.get("user")
        if user:
            response.set_cookie(CSRF_COOKIE, csrf_token(), httponly=False, samesite="Strict", secure=secure_cookies)
        started = flask.g.get("started")
        event(
            logger,
            "request",
            user=user,
            method=flask.request.method,
            path=path,
            status=response.status_code,
            latency_ms=round((time.perf_counter() - started) * 1000, 2) if started else None,
            remote_addr=flask.request.remote_addr,
        )
        return response

    # Created after the guard so its before_request hook runs second and sees the signed-in user.
    limiter = Limiter(
        key_func=rate_key,
        app=server,
        default_limits=[rate_limit],
        storage_uri="memory://",
        headers_enabled=True,
    )

    @server.route("/healthz")
    @limiter.exempt
    def healthz() -> Any:
        return flask.jsonify(status="ok")

    @server.route("/vendor/bootstrap.min.css")
    @limiter.exempt
    def bootstrap_css() -> Any:
        return flask.send_file(bootstrap_css_path(), mimetype="text/css", max_age=86400)

    def login_keys(user: str) -> list[str]:
        return [f"user:{user.lower()}", f"addr:{flask.request.remote_addr}"]

    @server.route("/login", methods=["GET", "POST"])
    @limiter.limit(login_rate_limit, key_func=lambda: f"login:{flask.request.remote_addr}")
    def login() -> Any:
        next_url = _safe_next(flask.request.values.get("next"))
        if flask.request.method == "GET":
            return _login_page(csrf=csrf_token(), next_url=next_url)
        if not csrf_ok(flask.request.form.get("csrf_token")):
            event(
                logger,
                "csrf_rejected",
                level=logging.WARNING,
                path="/login",
                remote_addr=flask.request.remote_addr,
                outcome="refused",
            )
            return _login_page(csrf=csrf_token(), message="The form expired; please try again.", next_url=next_url), 400
        user = flask.request.form.get("username", "").strip()
        password = flask.request.form.get("password", "")
        keys = login_keys(user)
        wait = store.locked_for(keys)
        if wait > 0:
            event(
                logger,
                "login",
                level=logging.WARNING,
                user=user,
                path="/login",
                remote_addr=flask.request.remote_addr,
                outcome="locked",
                detail=f"retry in {wait:.0f} s",
            )
            message = f"Too many failed attempts. Try again in {wait:.0f} s."
            return _login_page(csrf=csrf_token(), message=message, next_url=next_url), 429
        if not store.verify(user, password):
            store.record_failure(keys)
            event(
                logger,
                "login",
                level=logging.WARNING,
                user=user,
                path="/login",
                remote_addr=flask.request.remote_addr,
                outcome="failure",
            )
            return _login_page(csrf=csrf_token(), message="Wrong user or password.", next_url=next_url), 401
        store.clear_failures(keys)
        record = store.user(user)
        assert record is not None
        flask.session.clear()  # a new session (no fixation)
        flask.session.permanent = True
        flask.session["user"] = record.name
        flask.session["pwv"] = record.version
        flask.session["csrf"] = secrets.token_urlsafe(32)
        flask.g.user = record.name
        event(
            logger, "login", user=record.name, path="/login", remote_addr=flask.request.remote_addr, outcome="success"
        )
        return flask.redirect("/account/password" if record.must_change else next_url, code=302)

    @server.route("/logout", methods=["POST"])
    def logout() -> Any:
        event(
            logger,
            "logout",
            user=flask.g.user,
            path="/logout",
            remote_addr=flask.request.remote_addr,
            outcome="success",
        )
        flask.session.clear()
        flask.g.user = None
        response = flask.redirect("/login", code=302)
        response.delete_cookie(CSRF_COOKIE)
        return response

    @server.route("/account/password", methods=["GET", "POST"])
    def change_password() -> Any:
        user = flask.g.user
        forced = bool(flask.g.get("must_change"))
        if flask.request.method == "GET":
            return _password_page(csrf=csrf_token(), user=user, forced=forced)
        form = flask.request.form
        if form.get("new", "") != form.get("confirm", ""):
            return _password_page(csrf=csrf_token(), user=user, forced=forced, message="The new passwords differ."), 400
        try:
            store.change_password(user, form.get("current", ""), form.get("new", ""))
        except PasswordPolicyError as exc:
            event(
                logger,
                "password_change",
                level=logging.WARNING,
                user=user,
                path="/account/password",
                remote_addr=flask.request.remote_addr,
                outcome="failure",
                detail=str(exc),
            )
            return _password_page(csrf=csrf_token(), user=user, forced=forced, message=str(exc)), 400
        record = store.user(user)
        assert record is not None
        flask.session["pwv"] = record.version
        flask.session["csrf"] = secrets.token_urlsafe(32)
        flask.g.must_change = False
        event(
            logger,
            "password_change",
            user=user,
            path="/account/password",
            remote_addr=flask.request.remote_addr,
            outcome="success",
        )
        return flask.redirect("/", code=302)

    @server.errorhandler(429)
    def too_many(exc: Any) -> Any:
        event(
            logger,
            "rate_limited",
            level=logging.WARNING,
            user=flask.g.get("user"),
            path=flask.request.path,
            remote_addr=flask.request.remote_addr,
            outcome="refused",
            detail=str(getattr(exc, "description", "")),
        )
        return flask.jsonify(error="rate limit exceeded", limit=str(getattr(exc, "description", ""))), 429

    return limiter
