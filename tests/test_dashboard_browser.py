"""The dashboard in real headless Chromium, served by ``shoplens serve`` (gunicorn): sign in, visit every
page without console or callback errors, every chart has data, inputs change the numbers, and the
calculator's answer equals ``shoplens.stats.samplesize_proportions_2indep``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dash_browser import NEW_PASSWORD, PAGES, browser, charts, serve, settle, sign_in, visit, watched_page
from shoplens import stats

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def session(small_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any]]:
    workdir = tmp_path_factory.mktemp("browser")
    with serve(small_warehouse, workdir) as server, browser() as b:
        w = watched_page(b)
        assert server.password, "serve must print the one-time password"
        sign_in(w.page, server.base, "admin", server.password, new_password=NEW_PASSWORD)
        assert not w.page.url.endswith("/login"), "sign-in failed"
        yield server, w


def test_a_new_browser_is_sent_to_the_login(session) -> None:
    server, w = session
    other = w.page.context.browser.new_page()
    try:
        other.goto(server.base + "/experiments")
        assert "/login" in other.url
        assert other.locator("#login-submit").count() == 1
    finally:
        other.close()


@pytest.mark.parametrize("path", list(PAGES))
def test_every_page_renders_without_errors_and_charts_have_data(session, path: str) -> None:
    server, w = session
    before = len(w.problems())
    visit(w.page, server.base, path)
    assert w.problems()[before:] == []
    for chart in charts(w.page):
        assert chart["traces"] > 0 and chart["points"] > 0, chart
    assert w.page.locator(".navbar").count() == 1


def _card_value(page: Any, card_id: str) -> str:
    return page.locator(f"#{card_id} .fs-4").inner_text()


def test_calculator_answer_equals_shoplens_stats(session) -> None:
    server, w = session
    visit(w.page, server.base, "/planner")
    w.page.fill("#plan-p1", "0.042")
    w.page.fill("#plan-lift", "0.15")
    w.page.fill("#plan-power", "0.9")
    w.page.fill("#plan-alpha", "0.01")
    expected = stats.samplesize_proportions_2indep(0.042, 0.042 * 1.15, power=0.9, alpha=0.01)
    w.page.wait_for_function(
        "t => document.querySelector('#plan-n .fs-4') && document.querySelector('#plan-n .fs-4').innerText === t",
        arg=f"{expected:,.2f}",
        timeout=30_000,
    )
    assert _card_value(w.page, "plan-n") == f"{expected:,.2f}"
    assert w.problems() == []


def test_inputs_change_the_numbers(session) -> None:
    server, w = session
    visit(w.page, server.base, "/experiments")
    options = w.page.locator("#exp-results")
    first = options.inner_text()
    names = [c["id"] for c in charts(w.page)]
    assert {"exp-sequential", "exp-effects", "exp-bayes"} <= set(names)
    # Pick another experiment in the dropdown: the results table changes.
    w.page.click("#exp-select")
    items = w.page.locator(".Select-option, [role='option']")
    if items.count() < 2:
        pytest.fail("the generated warehouse should hold at least two experiments")
    items.nth(1).click()
    w.page.wait_for_function("t => document.querySelector('#exp-results').innerText !== t", arg=first, timeout=30_000)
    settle(w.page)
    assert w.page.locator("#exp-results").inner_text() != first
    # Data quality: filtering the quarantine by a rule shows only that rule.
    visit(w.page, server.base, "/data-quality")
    w.page.click("#dq-rule-filter")
    w.page.locator(".Select-option, [role='option']").first.click()
    settle(w.page)
    cells = w.page.locator("#dq-quarantine td[data-column='rule']").all_inner_texts()
    assert cells and len(set(cells)) == 1
    assert w.problems() == []


def test_dark_mode_switches_the_page_and_the_charts(session) -> None:
    server, w = session
    visit(w.page, server.base, "/simulator")
    w.page.click("#sim-run")
    settle(w.page)
    w.page.locator("#theme-switch").check()
    w.page.wait_for_function("() => document.documentElement.getAttribute('data-bs-theme') === 'dark'")
    settle(w.page)
    bg = w.page.eval_on_selector("#sim-chart .js-plotly-plot", "e => e._fullLayout.paper_bgcolor")
    assert bg in ("#212529", "rgb(33, 37, 41)")
    w.page.locator("#theme-switch").uncheck()
    settle(w.page)
    assert w.problems() == []
