"""The rating app in headless Chromium (Debian's package, installed by `make browser`), driven by Playwright."""

import json
import shutil
import sqlite3

import pytest

from medinject.judge.app import task_order
from medinject.judge.inputs import load_answers, parse_specs

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
def browser():
    if not shutil.which(CHROMIUM):
        pytest.fail("Chromium is missing: run `make browser` (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def login(page, url, token):
    page.goto(url)
    page.fill("#token", token)
    page.press("#token", "Enter")


def wait_done(page, n, position):
    """Until n answers are rated and answer number `position` (1-based) is shown."""
    page.wait_for_selector(f'#progress[data-done="{n}"]')
    page.wait_for_selector(f"#position:text-is('{position} / 6')")


def test_rate_in_the_browser_then_restart(browser, rating_server, rating_setup, tmp_path):
    s = rating_setup(3)
    srv = rating_server(*s.args)
    page = browser.new_page()
    outside = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(srv.url) else None)

    login(page, srv.url, "wrong-token-000")
    page.wait_for_selector("#login-error:has-text('Jeton refusé')")
    assert page.is_hidden("#rate")

    login(page, srv.url, s.tokens["alice"])
    page.wait_for_selector("#rate", state="visible")
    assert page.inner_text("#who") == "Annotateur : alice" and page.inner_text("#progress") == "0 / 6 notées"
    assert "base" not in page.content() and "NAT" not in page.content()  # blind: no system name anywhere
    order = task_order(load_answers(parse_specs(s.files)), "alice")
    first = page.inner_text("#candidate")

    page.keyboard.press("7")  # rate and move on
    wait_done(page, 1, 2)
    assert page.inner_text("#candidate") != first
    page.keyboard.press("c")  # comment, leave the box, then rate 10 with the 0 key
    page.keyboard.type("Omet la posologie.")
    page.keyboard.press("Escape")
    page.keyboard.press("0")
    wait_done(page, 2, 3)
    page.click('#scores button[data-score="3"]')
    wait_done(page, 3, 4)
    page.keyboard.press("ArrowLeft")
    page.wait_for_selector('#scores button.selected[data-score="3"]')

    with sqlite3.connect(s.db) as db:
        got = db.execute("SELECT item_id, system, score, comment FROM ratings WHERE annotator = 'alice'").fetchall()
    assert sorted(got) == sorted([(*order[0], 7, ""), (*order[1], 10, "Omet la posologie."), (*order[2], 3, "")])

    srv.stop()
    srv = rating_server(*s.args)  # restarted: every rating is still there, and alice resumes where she stopped
    page = browser.new_page()
    login(page, srv.url, s.tokens["alice"])
    page.wait_for_selector("#rate", state="visible")
    assert page.inner_text("#progress") == "3 / 6 notées" and page.inner_text("#position") == "4 / 6"
    page.keyboard.press("ArrowLeft")
    page.wait_for_selector('#scores button.selected[data-score="3"]')
    page.keyboard.press("ArrowLeft")
    page.wait_for_selector('#scores button.selected[data-score="10"]')
    assert page.input_value("#comment") == "Omet la posologie."

    other = browser.new_page()  # another annotator sees none of alice's ratings
    login(other, srv.url, s.tokens["bruno"])
    other.wait_for_selector("#rate", state="visible")
    assert other.inner_text("#progress") == "0 / 6 notées" and other.locator("#scores button.selected").count() == 0
    assert outside == []  # nothing fetched from anywhere else
    status = json.loads(page.evaluate("fetch('/api/me').then(r => r.status).then(String)"))
    assert status == 401  # the API refuses a request that carries no token, even from the app's own page
