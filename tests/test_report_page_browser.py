"""The report page in a real headless browser: Debian's chromium driven through its chromedriver (selenium, with the
driver's path given, so Selenium Manager never downloads one).

Without the browser these tests skip and say what to install; CI (`.ci/run`) installs it and sets
REPLAYGATE_REQUIRE_BROWSER=1, which turns the skip into a failure. REPLAYGATE_PAGE_SCREENSHOTS=DIR saves screenshots.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.test_report_page import responses_page, room_page

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
HEADLESS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--window-size=1400,1000")


def _missing() -> str:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed; pip install -e '.[test]'"
    absent = [path for path in (CHROMIUM, CHROMEDRIVER) if not Path(path).is_file()]
    if absent:
        return (f"{' and '.join(absent)} not found; install Debian's browser and driver: "
                "apt-get install -y chromium chromium-driver")
    return ""


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    missing = _missing()
    if missing:
        if os.environ.get("REPLAYGATE_REQUIRE_BROWSER"):
            pytest.fail(f"REPLAYGATE_REQUIRE_BROWSER is set, but {missing}")
        pytest.skip(missing)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for flag in (*HEADLESS, f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    options.binary_location = CHROMIUM
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def open_page(driver, path: Path) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(path.as_uri())
    WebDriverWait(driver, 10).until(lambda d: d.execute_script("return document.documentElement.dataset.ready") == "1")


def console_errors(driver) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] in ("SEVERE", "ERROR")]


def shoot(driver, name: str, element=None) -> None:
    folder = os.environ.get("REPLAYGATE_PAGE_SCREENSHOTS")
    if not folder:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    if element is not None:
        driver.execute_script("arguments[0].scrollIntoView({block: 'start'}); window.scrollBy(0, -90);", element)
    driver.save_screenshot(str(Path(folder) / f"{name}.png"))


def visible_rows(driver, suite: str) -> list:
    from selenium.webdriver.common.by import By

    return [row for row in driver.find_elements(By.CSS_SELECTOR, f'section[data-suite="{suite}"] tr.case-row') if row.is_displayed()]


def test_the_room_page_filters_to_regressions_and_opens_one_beside_the_baseline(browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    text, document = room_page(tmp_path, regressions=4)
    page = tmp_path / "index.html"
    page.write_text(text, encoding="utf-8")
    open_page(browser, page)
    assert console_errors(browser) == []
    WebDriverWait(browser, 10).until(lambda d: d.execute_script("return performance.getEntriesByType('paint').length >= 2"))
    timing = browser.execute_script(
        "const p = Object.fromEntries(performance.getEntriesByType('paint').map(e => [e.name, e.startTime]));"
        "const n = performance.getEntriesByType('navigation')[0];"
        "return {first_paint: p['first-paint'], first_contentful_paint: p['first-contentful-paint'], dom_ready: n.domContentLoadedEventEnd};")
    shoot(browser, "overview")
    assert len(visible_rows(browser, "room_selector")) == 81
    assert browser.find_element(By.CSS_SELECTOR, '[data-test="double"]').text.startswith("Test double, not a real model.")

    # The filter's own time, in the page: set the select, let it filter, force the layout.
    filtered_ms = browser.execute_script(
        "const s = document.querySelector('section[data-suite=\"room_selector\"] select[data-filter=\"status\"]');"
        "const t = performance.now(); s.value = 'fail'; s.dispatchEvent(new Event('change')); document.body.offsetHeight;"
        "return performance.now() - t;")
    status = Select(browser.find_element(By.CSS_SELECTOR, 'section[data-suite="room_selector"] select[data-filter="status"]'))
    status.select_by_value("regression")
    rows = visible_rows(browser, "room_selector")
    regressions = [c for c in document["suites"][0]["cases"] if c["regression"]]
    assert [row.get_attribute("data-case") for row in rows] == [c["id"] for c in regressions] and len(rows) == 4
    assert browser.find_element(By.CSS_SELECTOR, '[data-test="count"]').text == "4 of 81 cases"

    case = regressions[0]
    rows[0].click()
    detail = browser.find_element(By.CSS_SELECTOR, f'.case-detail[data-case="{case["id"]}"]')
    entries = case["repeats"][0]["transcript"]["entries"]
    call = detail.find_element(By.CSS_SELECTOR, '[data-entry="tool_call"]')
    assert "get_rooms_and_availability" in call.text and json.loads(entries[1]["arguments"])["date"] in call.text
    result = detail.find_element(By.CSS_SELECTOR, '[data-entry="tool_result"]')
    assert result.is_displayed() and '"id": "R-101"' in result.text  # the tool's JSON, pretty-printed
    assert detail.find_element(By.CSS_SELECTOR, '[data-entry="final"]').text.endswith(case["repeats"][0]["transcript"]["final"])
    graders = detail.find_element(By.CSS_SELECTOR, '[data-test="graders"]').text
    assert f"chose {case['answer']}, expected {case['expected']}" in graders
    baseline = detail.find_element(By.CSS_SELECTOR, '[data-test="baseline"]').text
    assert case["expected"] in baseline and "score 1.00, pass" in baseline
    assert case["answer"] in detail.find_element(By.CSS_SELECTOR, '[data-test="now"]').text
    shoot(browser, "case", detail)

    status.select_by_value("")
    grader = Select(browser.find_element(By.CSS_SELECTOR, 'section[data-suite="room_selector"] select[data-filter="grader"]'))
    grader.select_by_value("constraints")
    expected = [c["id"] for c in document["suites"][0]["cases"] if "constraints" in c["failing_graders"]]
    assert [row.get_attribute("data-case") for row in visible_rows(browser, "room_selector")] == expected
    grader.select_by_value("")
    search = browser.find_element(By.CSS_SELECTOR, 'section[data-suite="room_selector"] input[data-filter="search"]')
    search.send_keys("room-009")
    assert [row.get_attribute("data-case") for row in visible_rows(browser, "room_selector")] == ["room-009"]

    diff = browser.find_element(By.CSS_SELECTOR, '#optimization [data-test="prompt-diff"]')
    assert "+You choose meeting rooms." in diff.text
    shoot(browser, "optimization-diff", diff)
    assert console_errors(browser) == []
    size = len(text.encode("utf-8"))
    print(f"\nroom page: {size} bytes, first paint {timing['first_paint']:.0f} ms, first contentful paint "
          f"{timing['first_contentful_paint']:.0f} ms, DOM ready {timing['dom_ready']:.0f} ms, filter {filtered_ms:.0f} ms")
    # No visible delay, with room for a loaded CI machine: painted within 3 s, filtered within a quarter second.
    assert timing["first_contentful_paint"] < 3000 and filtered_ms < 250
    assert size < 1_000_000


def test_a_responses_suite_page_shows_the_conversation(browser, tmp_path, monkeypatch):
    from selenium.webdriver.common.by import By

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EVALS_AGENT_MODEL", raising=False)
    text, _ = responses_page(tmp_path)
    page = tmp_path / "reports" / "index.html"
    page.parent.mkdir()
    page.write_text(text, encoding="utf-8")
    shutil.rmtree(tmp_path / "tapes")  # the page stands alone: nothing it shows is read from elsewhere
    open_page(browser, page)
    assert console_errors(browser) == []
    assert [row.get_attribute("data-case") for row in visible_rows(browser, "plans")] == ["ann", "bob", "cat"]
    browser.find_element(By.CSS_SELECTOR, 'tr.case-row[data-case="cat"]').click()
    detail = browser.find_element(By.CSS_SELECTOR, '.case-detail[data-case="cat"]')
    assert detail.find_element(By.CSS_SELECTOR, ".transcript").get_attribute("data-api") == "responses"
    assert [e.get_attribute("data-entry") for e in detail.find_elements(By.CSS_SELECTOR, ".transcript > .entry")] == [
        "system", "user", "tool_call", "tool_result", "final"]
    assert '"who": "cat"' in detail.find_element(By.CSS_SELECTOR, '[data-entry="tool_call"]').text
    assert '"plan": "silver"' in detail.find_element(By.CSS_SELECTOR, '[data-entry="tool_result"]').text
    assert detail.find_element(By.CSS_SELECTOR, '[data-entry="final"]').text.endswith("gold")
    assert "not in the baseline" in detail.find_element(By.CSS_SELECTOR, '[data-test="baseline"]').text
    assert "exact_match" in detail.find_element(By.CSS_SELECTOR, '[data-test="graders"]').text
    shoot(browser, "responses-case", detail)
    assert console_errors(browser) == []
