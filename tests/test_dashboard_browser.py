"""The dashboard in real headless Chromium, served by ``shoplens serve`` (gunicorn): sign in, visit every
page without console or callback errors, every chart has data, inputs change the numbers, and the
calculator's answer equals ``shoplens.stats.samplesize_proportions_2indep``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import shoplens
import shoplens.kpis as kpis
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


@pytest.mark.parametrize("path", PAGES)
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


def _home_cards(page: Any) -> dict[str, str]:
    texts = page.eval_on_selector_all(
        "[id^='home-card-']", "els => els.map(e => [e.id.slice(10), e.querySelector('.fs-4').innerText])"
    )
    return dict(texts)


def _expected_cards(wh: Any, **f: Any) -> dict[str, str]:
    h = kpis.headline(wh, **f).row(0, named=True)
    return {
        "visitors": f"{h['visitors']:,d}",
        "sessions": f"{h['sessions']:,d}",
        "buyers": f"{h['buyers']:,d}",
        "orders": f"{h['orders']:,d}",
        "revenue": f"{h['revenue']:,.2f}",
        "conversion": f"{h['conversion']:.3%}",
        "aov": f"{h['aov']:,.2f}",
    }


def _wait_cards_change(page: Any, before: dict[str, str]) -> dict[str, str]:
    page.wait_for_function(
        "v => { const e = document.querySelector('#home-card-visitors .fs-4');"
        " return e && e.innerText && e.innerText !== v; }",
        arg=before["visitors"],
        timeout=30_000,
    )
    settle(page)
    return _home_cards(page)


def test_home_filters_change_the_numbers_and_equal_kpis(session, small_warehouse: Path) -> None:
    server, w = session
    page = w.page
    visit(page, server.base, "/")
    wh = shoplens.open_warehouse(small_warehouse)
    # Dash 4's DatePickerRange: the start input carries the component id, the end one "<id>-end-date".
    start = page.input_value("input.dash-datepicker-start-date#home-dates")
    end = page.input_value("#home-dates-end-date")
    shown = _home_cards(page)
    assert shown == _expected_cards(wh, start=start, end=end)
    seen = [shown["visitors"]]
    # Each step changes one widget; the cards must then equal shoplens.kpis for the whole filter.
    f: dict[str, Any] = {}
    for action, change in (
        (lambda: page.locator("#home-bots").check(), {"include_bots": True}),
        (lambda: page.select_option("#home-days", "weekends"), {"days": "weekends"}),
        (lambda: page.select_option("#home-segment", "new"), {"segment": "new"}),
    ):
        action()
        f.update(change)
        shown = _wait_cards_change(page, shown)
        assert shown == _expected_cards(wh, start=start, end=end, **f), f
        seen.append(shown["visitors"])
    assert len(set(seen)) == len(seen), "every filter step must change the visitors shown"
    # every chart of the page followed the filter: the trend's bars are kpis.daily, the funnel kpis.funnel
    daily = kpis.daily(wh, start=start, end=end, **f)
    bars = page.eval_on_selector("#home-trend .js-plotly-plot", "e => e.data.map(t => [t.name, t.y])")
    shown_series = dict(bars)
    assert shown_series["visitors"] == daily["visitors"].to_list()
    assert shown_series["revenue"] == pytest.approx(daily["revenue"].to_list())
    funnel = page.eval_on_selector("#home-funnel .js-plotly-plot", "e => e.data[0].x")
    assert funnel == kpis.funnel(wh, level="user", start=start, end=end, **f)["n"].to_list()
    names = {c["id"] for c in charts(page)}
    assert {"home-trend", "home-funnel", "home-weekday"} <= names
    for chart in charts(page):
        assert chart["traces"] > 0 and chart["points"] > 0, chart
    assert w.problems() == []


def test_every_page_in_dark_mode(session) -> None:
    """The theme switch holds across pages: each page renders dark (Bootstrap's colour mode and every
    chart's paper), without errors."""
    server, w = session
    page = w.page
    visit(page, server.base, "/")
    page.locator("#theme-switch").check()
    page.wait_for_function("() => document.documentElement.getAttribute('data-bs-theme') === 'dark'")
    try:
        for path in PAGES:
            visit(page, server.base, path)
            page.wait_for_function("() => document.documentElement.getAttribute('data-bs-theme') === 'dark'")
            settle(page)
            backgrounds = page.eval_on_selector_all(
                ".js-plotly-plot", "els => els.map(e => e._fullLayout && e._fullLayout.paper_bgcolor)"
            )
            assert all(bg in ("#212529", "rgb(33, 37, 41)") for bg in backgrounds), (path, backgrounds)
            body = page.eval_on_selector("body", "e => getComputedStyle(e).backgroundColor")
            assert body == "rgb(33, 37, 41)", (path, body)
    finally:
        visit(page, server.base, "/")
        page.locator("#theme-switch").uncheck()
        settle(page)
    assert w.problems() == []


def test_products_table_is_searchable(session) -> None:
    server, w = session
    page = w.page
    visit(page, server.base, "/products")
    first_item = page.locator("#prod-table td[data-column='item_id']").first.inner_text()
    needle = first_item[:3]
    page.fill("#prod-search", needle)
    page.press("#prod-search", "Enter")
    page.wait_for_function(
        "n => [...document.querySelectorAll(\"#prod-table td[data-column='item_id']\")]"
        ".every(td => td.innerText.includes(n))",
        arg=needle,
        timeout=30_000,
    )
    settle(page)
    items = page.locator("#prod-table td[data-column='item_id']").all_inner_texts()
    assert items and all(needle in i for i in items)
    page.fill("#prod-search", "no-such-item")
    page.press("#prod-search", "Enter")
    page.wait_for_function("() => document.querySelector('#prod-table').innerText.includes('no data')")
    assert w.problems() == []


def test_the_worker_warmed_its_caches_before_serving(session) -> None:
    """gunicorn's post_worker_init filled the caches (logged once per worker, before any request)."""
    import json

    server, _ = session
    events = [json.loads(line) for line in server.log_file.read_text().splitlines()]
    warm = [i for i, e in enumerate(events) if e["event"] == "startup" and "caches warm" in (e["detail"] or "")]
    requests = [i for i, e in enumerate(events) if e["event"] == "request"]
    assert len(warm) == 1 and requests and warm[0] < requests[0]
