"""The web console (``service/console``) in a real headless Chromium (Debian's ``chromium`` and
``chromium-driver``, which ``make test`` installs when missing), against ``odecast up`` with an
API key set: a CSV with errors is refused in the page, the fixed one is fitted, the job is
followed to its end, the model's chart is drawn, the grid changed, the CSV download matches
``GET /predict``; a wrong key, Redis stopped and the API stopped show their messages.

``ODECAST_CONSOLE_SCREENSHOTS=1`` also writes the main pages' screenshots to ``docs/images/``.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service as DriverService
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait
from stack_helpers import clean_env, serving

from service.embedded_redis import EmbeddedRedis, free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
KEY = "console-test-key"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
FIRST_LOAD_BYTES = 300_000  # what the page may transfer on its first load (the budget)
SERIES, POINTS = 3, 30


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``odecast up`` with one worker and an API key; its base URL."""
    port = free_port()
    store = tmp_path_factory.mktemp("console") / "store"
    command = ["up", "--workers", "1", "--store", str(store)]
    with serving(command, port, clean_env(ODECAST_API_KEYS=KEY)):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def downloads(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def browser(downloads: Path) -> Iterator[WebDriver]:
    assert Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists(), (
        "the browser tests need Debian's chromium and chromium-driver: `make test` installs "
        "them (apt-get install chromium chromium-driver)"
    )
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-gpu", "--window-size=1280,800"):  # fmt: skip
        options.add_argument(argument)
    prefs = {"download.default_directory": str(downloads), "download.prompt_for_download": False}
    options.add_experimental_option("prefs", prefs)
    driver = webdriver.Chrome(options=options, service=DriverService(executable_path=CHROMEDRIVER))
    driver.execute_cdp_cmd(
        "Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    try:
        yield driver
    finally:
        driver.quit()


def wait(driver: WebDriver, condition: Any, timeout: float = 20, what: str = "") -> Any:
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.2).until(lambda d: condition(d))
    except TimeoutException:
        message = driver.find_element(By.ID, "message").text
        raise AssertionError(f"timed out waiting for {what}; the page says: {message!r}") from None


def open_page(driver: WebDriver, base: str, hash_: str) -> None:
    driver.get(f"{base}/{hash_}")
    wait(driver, lambda d: d.execute_script("return document.body.dataset.ready"), what="the page")


def use_key(driver: WebDriver, key: str) -> None:
    field = driver.find_element(By.ID, "api-key")
    field.clear()
    field.send_keys(key)
    driver.find_element(By.CSS_SELECTOR, "#key-form button").click()


def message(driver: WebDriver) -> str:
    return driver.find_element(By.ID, "message").text


def csv_text(bad: bool) -> tuple[str, dict[str, int]]:
    """Irregular noisy sines in the long layout; with ``bad``, line 5 holds a word for a value
    and line 9 one cell too many. Also each series' number of observations."""
    rng = np.random.default_rng(3)
    lines = ["id,time,value"]
    counts = {}
    for i in range(SERIES):
        times = np.sort(rng.choice(np.arange(0, 60) * 0.25, POINTS, replace=False))
        for t in times:
            lines.append(f"s{i},{t:g},{np.sin(t + i) + 0.05 * rng.normal():.5f}")
        counts[f"s{i}"] = POINTS
    if bad:
        lines[4] = lines[4].rsplit(",", 1)[0] + ",abc"
        lines[8] = lines[8] + ",7"
    return "\n".join(lines) + "\n", counts


def screenshot(driver: WebDriver, name: str) -> None:
    if os.environ.get("ODECAST_CONSOLE_SCREENSHOTS") == "1":
        driver.save_screenshot(str(ROOT / "docs" / "images" / f"console-{name}.png"))


def drawn(driver: WebDriver) -> dict[str, Any] | None:
    """What the first chart holds (its uPlot instance): the observations and predicted times
    with a value, its series, and the x range shown."""
    return driver.execute_script(
        """const box = document.querySelector("#charts .chart");
           if (!box || !box.chart) return null;
           const u = box.chart;
           const count = (i) => u.data[i].filter((v) => v !== null).length;
           return {observed: count(1), predicted: count(2), bands: u.bands.length,
                   series: u.series.map((s) => s.label), xmin: u.scales.x.min,
                   xmax: u.scales.x.max};"""
    )


def api(base: str, path: str, **params: Any) -> Any:
    response = httpx.get(f"{base}{path}", params=params, headers={"X-API-Key": KEY}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def test_first_load_is_small_and_every_field_has_a_label(browser: WebDriver, service: str) -> None:
    open_page(browser, service, "#/upload")
    use_key(browser, KEY)
    wait(browser, lambda d: d.find_elements(By.ID, "setting-training-epochs"), what="settings")
    sizes = browser.execute_script(
        """const entries = [...performance.getEntriesByType("navigation"),
                            ...performance.getEntriesByType("resource")]
             .filter((e) => !e.name.includes("/openapi.json"));
           const ready = performance.getEntriesByName("console-ready")[0];
           return {bytes: entries.reduce((s, e) => s + (e.transferSize || e.encodedBodySize), 0),
                   files: entries.length, ready_ms: ready ? ready.startTime : null};"""
    )
    print(f"\nconsole first load: {sizes['bytes']} bytes in {sizes['files']} files; "
          f"interactive after {sizes['ready_ms']:.0f} ms")  # fmt: skip
    assert 0 < sizes["bytes"] <= FIRST_LOAD_BYTES, sizes
    unlabelled = browser.execute_script(
        """return [...document.querySelectorAll("input, select")]
             .filter((e) => !(e.id && document.querySelector(`label[for="${e.id}"]`)))
             .map((e) => e.outerHTML);"""
    )
    assert unlabelled == []


def test_upload_fit_follow_chart_and_download(
    browser: WebDriver, service: str, tmp_path: Path, downloads: Path
) -> None:
    open_page(browser, service, "#/upload")
    use_key(browser, KEY)

    bad, _ = csv_text(bad=True)
    (tmp_path / "bad.csv").write_text(bad)
    browser.find_element(By.ID, "csv-file").send_keys(str(tmp_path / "bad.csv"))
    errors = wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#csv-errors li"),
                  what="the CSV's errors")  # fmt: skip
    texts = [e.text for e in errors]
    assert len(texts) == 2, texts
    assert texts[0].startswith("line 5:") and '"abc" is not a finite number' in texts[0], texts
    assert texts[1].startswith("line 9:") and "4 cells, but the header has 3" in texts[1], texts
    assert not browser.find_element(By.ID, "fit-button").is_enabled()
    screenshot(browser, "upload-errors")
    assert api(service, "/jobs")["jobs"] == [] and api(service, "/models")["models"] == []

    good, counts = csv_text(bad=False)
    (tmp_path / "good.csv").write_text(good)
    browser.find_element(By.ID, "csv-file").send_keys(str(tmp_path / "good.csv"))
    wait(browser, lambda d: d.find_element(By.ID, "fit-button").is_enabled(), what="Fit enabled")
    facts = browser.find_element(By.ID, "csv-summary").text
    assert "series\n3" in facts and f"observations\n{SERIES * POINTS}" in facts, facts
    settings = {"training-epochs": 3, "training-max_seconds": 20, "training-batch_size": 8,
                "model-latent_dim": 4, "model-hidden_dim": 16, "model-encoder_dim": 8}  # fmt: skip
    browser.find_element(By.CSS_SELECTOR, "details[data-field=model] summary").click()
    for field, value in settings.items():
        browser.find_element(By.ID, f"setting-{field}").send_keys(str(value))
    browser.find_element(By.ID, "fit-button").click()

    wait(browser, lambda d: d.current_url.endswith("#/jobs"), what="the jobs page")
    assert "Fitting started" in message(browser)
    row = wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#jobs tr[data-job-id]"),
               what="the job's row")[0]  # fmt: skip
    job_id = row.get_attribute("data-job-id")
    done = f'#jobs tr[data-job-id="{job_id}"][data-status=succeeded]'
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, done), timeout=300, what="the fit")
    screenshot(browser, "jobs")
    browser.find_element(By.CSS_SELECTOR, f"{done} a[href^='#/models/']").click()

    chart = wait(browser, lambda d: (drawn(d) or {}).get("predicted") == 200 and drawn(d),
                 timeout=60, what="the chart")  # fmt: skip
    model_id = browser.current_url.rsplit("/", 1)[1]
    series_id = browser.find_element(By.ID, "series-select").get_attribute("value")
    assert chart["observed"] == counts[series_id] and chart["bands"] == 2
    assert chart["series"][1:3] == ["observed", "mean"] and len(chart["series"]) == 7
    overlay = browser.find_element(By.CSS_SELECTOR, "#charts .chart .u-over")
    width = overlay.size["width"]
    ActionChains(browser).move_to_element_with_offset(overlay, -width // 4, 0).click_and_hold()\
        .move_by_offset(width // 4, 0).release().perform()  # fmt: skip
    zoomed = wait(browser, lambda d: drawn(d)["xmax"] - drawn(d)["xmin"] < 0.5 * (
        chart["xmax"] - chart["xmin"]) and drawn(d), what="the zoom")  # fmt: skip
    assert chart["xmin"] < zoomed["xmin"] < zoomed["xmax"] < chart["xmax"]
    assert "Held-out skill" in browser.find_element(By.ID, "skill").text
    wait(browser, lambda d: "Backtest" in d.find_element(By.ID, "backtest").text, what="backtest")
    screenshot(browser, "model")

    grid = {"grid-start": "2", "grid-stop": "20", "grid-num": "37"}
    for field, value in grid.items():
        element = browser.find_element(By.ID, field)
        element.clear()
        element.send_keys(value)
    browser.find_element(By.CSS_SELECTOR, "#predict-form button[type=submit]").click()
    wait(browser, lambda d: (drawn(d) or {}).get("predicted") == 37, what="the new grid")

    browser.find_element(By.ID, "download-csv").click()
    target = downloads / f"{model_id}-{series_id}.csv"
    wait(browser, lambda d: target.exists() and target.stat().st_size > 0, what="the download")
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    expected = api(service, "/predict", model_id=model_id, series_id=series_id, start="2",
                   stop="20", num="37", level=["90", "50"])  # fmt: skip
    assert len(rows) == 37
    assert [float(r["time"]) for r in rows] == expected["times"]
    assert [r["kind"] for r in rows] == expected["kind"]
    for column, values in (
        ("mean", expected["mean"]),
        ("lower_90", expected["intervals"]["90"]["lower"]),
        ("upper_50", expected["intervals"]["50"]["upper"]),
    ):
        np.testing.assert_allclose([float(r[column]) for r in rows], np.ravel(values), rtol=1e-12)

    typed = browser.find_element(By.ID, "times-typed")
    typed.send_keys("16, 1, 2.5")
    browser.find_element(By.CSS_SELECTOR, "#predict-form button[type=submit]").click()
    wait(browser, lambda d: (drawn(d) or {}).get("predicted") == 3, what="the typed times")
    assert "3 predicted times (1 extrapolated)" in browser.find_element(By.ID, "charts").text

    browser.set_window_size(390, 844)  # a phone's width: nothing runs off the page sideways
    time.sleep(0.5)
    overflow = browser.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    wide = browser.execute_script(
        """return [...document.querySelectorAll("body *")]
             .filter((e) => e.getBoundingClientRect().right
                            > document.documentElement.clientWidth + 1)
             .slice(0, 8).map((e) => e.tagName + "." + e.className + "#" + e.id);"""
    )
    assert overflow <= 1, (overflow, wide)
    screenshot(browser, "model-phone")
    browser.set_window_size(1280, 800)

    open_page(browser, service, "#/models")
    row_css = f'tr[data-model-id="{model_id}"]'
    listed = wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, row_css), what="its row")[0]
    assert listed.get_attribute("data-status") == "ready"
    skill = r"\d[\d.]*x linear_interpolation \((not )?better\)"
    assert re.search(skill, listed.text), listed.text  # the skill ratios are shown
    screenshot(browser, "models")
    listed.find_element(By.TAG_NAME, "button").click()
    browser.switch_to.alert.accept()
    wait(browser, lambda d: not d.find_elements(By.CSS_SELECTOR, row_css), what="the deletion")
    assert "deleted" in message(browser)
    assert api(service, "/models")["models"] == []


def test_a_running_job_is_cancelled_from_the_jobs_page(browser: WebDriver, service: str) -> None:
    series = [
        {"id": f"c{i}", "times": list(range(12)), "values": [float(v % 5 + i) for v in range(12)]}
        for i in range(4)
    ]
    body = {"series": series, "training": {"epochs": 100000, "max_seconds": 600}}
    fit = httpx.post(f"{service}/fit", json=body, headers={"X-API-Key": KEY}, timeout=30)
    assert fit.status_code == 202, fit.text
    job_id = fit.json()["job_id"]
    open_page(browser, service, "#/jobs")
    use_key(browser, KEY)
    live = f'#jobs tr[data-job-id="{job_id}"]:is([data-status=running],[data-status=queued])'
    row = wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, live), what="the job")[0]
    row.find_element(By.TAG_NAME, "button").click()
    wait(browser, lambda d: "being cancelled" in message(d), what="the notice")
    ended = f'#jobs tr[data-job-id="{job_id}"][data-status=cancelled]'
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ended), timeout=120, what="the end")
    assert api(service, f"/jobs/{job_id}")["status"] == "cancelled"


def test_a_wrong_key_shows_the_401_message(browser: WebDriver, service: str) -> None:
    open_page(browser, service, "#/models")
    use_key(browser, "not-the-key")
    wait(browser, lambda d: "401" in message(d), what="the 401 message")
    assert "API key was refused" in message(browser) and "X-API-Key" in message(browser)
    use_key(browser, KEY)
    wait(browser, lambda d: not d.find_element(By.ID, "message").is_displayed(), what="no error")


def test_redis_away_and_the_api_gone_are_said_in_words(browser: WebDriver, tmp_path: Path) -> None:
    """``odecast api`` alone on a Redis of the test's own: Redis stopped, the jobs page says
    503 in words (the models, read from the store, still show); the API stopped, the page
    says the API did not answer."""
    redis_server = EmbeddedRedis(tmp_path / "redis").start()
    port = free_port()
    env = clean_env(ODECAST_REDIS_URL=redis_server.url, ODECAST_STORE=str(tmp_path / "store"))
    try:
        with serving(["api"], port, env):
            base = f"http://127.0.0.1:{port}"
            open_page(browser, base, "#/jobs")
            wait(browser, lambda d: "No jobs yet" in d.find_element(By.ID, "page").text,
                 what="jobs")  # fmt: skip
            redis_server.stop()
            browser.execute_script("location.hash = '#/models';")
            wait(browser, lambda d: "No models yet" in d.find_element(By.ID, "page").text,
                 what="the models without Redis")  # fmt: skip
            assert not browser.find_element(By.ID, "message").is_displayed()
            browser.execute_script("location.hash = '#/jobs';")
            wait(browser, lambda d: "503" in message(d), what="the 503 message")
            assert "Redis" in message(browser), message(browser)
            assert browser.find_element(By.TAG_NAME, "h1").text == "Training jobs"  # not blank
    finally:
        redis_server.stop()
    browser.execute_script("location.hash = '#/models';")
    wait(browser, lambda d: "did not answer" in message(d), what="the network message")
    assert "Is the server running" in message(browser)
    assert browser.find_element(By.TAG_NAME, "h1").text == "Models"


def parse_in_page(driver: WebDriver, texts: list[str]) -> list[dict[str, Any]]:
    """``parseSeriesCsv`` of the console's own ``csv.js`` run on each text, in the browser."""
    return driver.execute_async_script(
        """const [texts, done] = arguments;
           import("/console/js/csv.js").then((csv) => done(texts.map((t) => {
             const r = csv.parseSeriesCsv(t);
             return {layout: r.layout, series: r.series, dims: r.dims, timeKind: r.timeKind,
                     points: r.points, missing: r.missing, skipped: r.skipped,
                     utcTimes: r.utcTimes, lines: r.lines, errors: r.errors,
                     detailLine: csv.lineOf(r, {series: r.series.length ? r.series[0].id : "",
                                                 index: 1})};
           })));""",
        texts,
    )


def test_the_csv_reader_of_the_page(browser: WebDriver, service: str) -> None:
    open_page(browser, service, "#/models")
    wide, long_2d, dates, quoted, broken = parse_in_page(
        browser,
        [
            "time,a,b\n0,1,\n1.5,2,3\n\n4,,5\n",
            "id,time,x,y\nu,2,1,\nu,1,,\nu,3,4,5\nv,0,1,1\n",
            "time,a\n2026-01-02,1\n2026-01-03 06:00,2\n2026-01-04T00:00:00+02:00,3\n",
            'id,time,value\n"s 1",1,2\n"s-1","2","3"\n"s-1",3,"4\n5"\n',
            'id,time,value\ns1,1,2\ns1,1,3\ns2,x,1\ns2,2026-01-01,1\ns3,3,"1\n',
        ],
    )
    assert wide["layout"] == "wide" and wide["dims"] == 1 and wide["missing"] == 2
    assert wide["series"] == [
        {"id": "a", "times": [0, 1.5], "values": [1, 2]},
        {"id": "b", "times": [1.5, 4], "values": [3, 5]},
    ]
    assert wide["lines"] == [[2, 3], [3, 5]] and wide["errors"] == []

    assert long_2d["layout"] == "long" and long_2d["dims"] == 2 and long_2d["skipped"] == 1
    assert long_2d["series"][0] == {"id": "u", "times": [2, 3], "values": [[1, None], [4, 5]]}
    assert long_2d["missing"] == 1 and long_2d["points"] == 3
    assert long_2d["detailLine"] == 4  # the API's series "u", index 1: the file's line 4

    assert dates["timeKind"] == "datetime" and dates["utcTimes"] == 2 and dates["errors"] == []
    assert dates["series"][0]["times"] == [
        "2026-01-02T00:00:00Z",
        "2026-01-03T06:00Z",
        "2026-01-04T00:00:00+02:00",
    ]

    assert [e["line"] for e in quoted["errors"]] == [2, 4], quoted["errors"]
    assert "ids are 1-64 letters" in quoted["errors"][0]["message"]
    assert "not a finite number" in quoted["errors"][1]["message"]  # "4\n5": a value across lines

    messages = {e["line"]: e["message"] for e in broken["errors"]}
    assert len(messages) == len(broken["errors"]) == 4, broken["errors"]
    assert "twice (also on line 2)" in messages[3]
    assert "neither a number nor an ISO-8601 date" in messages[4]
    assert "is datetime, but the file's first times are numeric" in messages[5]
    assert "never closed" in messages[6]


def test_the_csv_reader_on_what_spreadsheets_write(browser: WebDriver, service: str) -> None:
    open_page(browser, service, "#/models")
    crlf, numbers, unnamed, dates, wide_twice = parse_in_page(
        browser,
        [
            "\ufeffid,time,value\r\ns1,1,2\r\ns1,2,3\r\n",
            "id,time,value,\ns1,1e3,-.5,\ns1,+2,1E-2,\ns1,3,1e400,\n",
            "id,time,,value\ns1,1,,2\ns1,2,9,3\n",
            "time,a\n2026-02-31,1\n2026-01-01 junk,2\n2026-01-01T00:00:00.0001Z,3\n"
            "2026-01-01T00:00:00.0002Z,4\n2026-01-01T01:00:00+0100,5\n2026-01-01T00:00:00Z,6\n",
            "time,a,b\n1,1,2\n1,3,4\n",
        ],
    )
    assert crlf["errors"] == [] and crlf["series"] == [
        {"id": "s1", "times": [1, 2], "values": [2, 3]}
    ]
    assert crlf["lines"] == [[2, 3]]

    assert numbers["series"][0]["times"] == [1000, 2]  # a trailing comma is an empty column
    assert numbers["series"][0]["values"] == [-0.5, 0.01]
    assert [(e["line"], "not a finite number" in e["message"]) for e in numbers["errors"]] == [
        (4, True)
    ]

    assert [e["line"] for e in unnamed["errors"]] == [3]
    assert "column 3, which has no name" in unnamed["errors"][0]["message"]

    assert [e["line"] for e in dates["errors"]] == [2, 3, 7], dates["errors"]
    assert "twice (also on line 6)" in dates["errors"][2]["message"]  # 01:00+01:00 is 00:00Z

    assert [e["line"] for e in wide_twice["errors"]] == [3]  # one error for the row, not two


def test_a_model_of_dated_series_is_drawn_on_a_time_axis(browser: WebDriver, service: str) -> None:
    days = [f"2026-03-{day:02d}T{hour:02d}:00:00Z" for day in range(1, 29) for hour in (0, 12)]
    series = [
        {
            "id": f"d{i}",
            "times": days[i::2],
            "values": [float(np.sin(k / 3 + i)) for k in range(28)],
        }
        for i in range(2)
    ]
    body = {"series": series, "model": {"latent_dim": 4, "hidden_dim": 16, "encoder_dim": 8},
            "training": {"epochs": 3, "batch_size": 8, "max_seconds": 20}}  # fmt: skip
    fit = httpx.post(f"{service}/fit", json=body, headers={"X-API-Key": KEY}, timeout=30)
    assert fit.status_code == 202, fit.text
    model_id = fit.json()["model_id"]
    deadline = time.monotonic() + 300
    while api(service, f"/models/{model_id}")["status"] != "ready":
        assert time.monotonic() < deadline, "the dated model did not train in 300 s"
        time.sleep(1)

    open_page(browser, service, f"#/models/{model_id}")
    use_key(browser, KEY)
    chart = wait(browser, lambda d: (drawn(d) or {}).get("predicted") == 200 and drawn(d),
                 timeout=60, what="the chart")  # fmt: skip
    assert chart["observed"] == 28
    assert browser.execute_script('return document.querySelector(".chart").chart.scales.x.time')
    start = browser.find_element(By.ID, "grid-start").get_attribute("value")
    assert start == "2026-03-01T00:00:00Z", start
    wait(browser, lambda d: "per origin" in d.find_element(By.ID, "backtest").text, what="backtest")
    page = browser.find_element(By.ID, "page").text
    assert "Invalid Date" not in page and "NaN" not in page
    assert re.search(r"2026-0[34]-\d\dT", browser.find_element(By.ID, "backtest").text)

    typed = browser.find_element(By.ID, "times-typed")
    typed.send_keys("2026-03-30T06:00:00+02:00, 2026-03-02")
    browser.find_element(By.CSS_SELECTOR, "#predict-form button[type=submit]").click()
    wait(browser, lambda d: (drawn(d) or {}).get("predicted") == 2, what="the typed dates")
    assert "2 predicted times (1 extrapolated)" in browser.find_element(By.ID, "charts").text
