"""Every page in headless Chromium, at a phone's width and a wide screen's, served by `rolewatch web`
(uvicorn in a child process) over a seeded database: the DOM says what it should, the console
shows no error (a CSP violation would be one), no script runs, and nothing overflows the viewport.

Debian's `chromium` and `chromium-driver` do the work; selenium is pointed at both, so it never
downloads a driver or a browser. Missing Chromium skips these tests locally and fails them in CI.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage.database import make_engine, upgrade
from tests.integration.web_seed import CONFIG, HOSTILE_TITLE, Seeded, seed

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("ROLEWATCH_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("ROLEWATCH_TEST_CHROMEDRIVER", "/usr/bin/chromedriver")
VIEWPORTS = {"phone": (390, 844, True), "wide": (1440, 900, False)}


def _browser_missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"the browser tests need Chromium in CI: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Seeded]]:
    """`rolewatch web` on a free loopback port over a freshly seeded SQLite database."""
    folder = tmp_path_factory.mktemp("web")
    database = f"sqlite:///{folder / 'rolewatch.db'}"
    engine = make_engine(database)
    upgrade(engine)
    seeded = seed(engine)
    engine.dispose()
    config = folder / "rolewatch.yaml"
    config.write_text(f"database: '{database}'\n{CONFIG}", encoding="utf-8")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROLEWATCH_")}
    server = subprocess.Popen(
        [sys.executable, "-m", "rolewatch", "--config", str(config), "web", "--http", f"127.0.0.1:{port}"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(base, server)
        yield base, seeded
    finally:
        server.terminate()
        server.wait(timeout=15)
        if server.stderr is not None:
            server.stderr.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_until_serving(base: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            error = server.stderr.read().decode() if server.stderr else ""
            raise AssertionError(f"rolewatch web exited with {server.returncode}: {error}")
        try:
            with urllib.request.urlopen(f"{base}/static/rolewatch.css", timeout=2):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("rolewatch web did not start serving within 30 s")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()) and not (
        shutil.which("chromium") and shutil.which("chromedriver")
    ):
        _browser_missing(f"no {CHROMIUM} or {CHROMEDRIVER} (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ["SE_OFFLINE"] = "true"  # selenium-manager, should anything wake it, stays off the network
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(argument)
    options.add_argument("--no-first-run")
    options.add_argument("--disable-extensions")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def pages(seeded: Seeded) -> dict[str, tuple[str, list[str]]]:
    """Path → (the page's heading, texts its body must show)."""
    return {
        "/": ("Overview", ["open postings", "acme", "globex", "alerts owed"]),
        "/events": ("Events", ["Closing Analyst", "reopened", "salary"]),
        "/postings": ("Postings", ["Data Scientist Intern 1", "Backend Engineer"]),
        "/postings?q=title:intern": ("Postings", ["Data Scientist Intern 1"]),
        f"/postings/{seeded.hostile_id}": (HOSTILE_TITLE, ["Evil & Co", "apply here", "Versions (1)"]),
        "/postings/acme/2": ("Closing Analyst", ["closed", "reopened"]),
        "/sources": ("Sources", ["acme", "HTTP 503 <b>busy</b>"]),
        "/sources/acme": ("acme", ["Crawl log", "complete", "failed"]),
        "/subscriptions": ("Subscriptions", ["interns", "title:intern"]),
        "/subscriptions/interns": ("interns", ["Matched since", "Data Scientist Intern 1"]),
        "/charts": ("Charts", ["New and closed per day", "Time to close"]),
    }


PATHS = [
    "/",
    "/events",
    "/postings",
    "/postings?q=title:intern",
    "hostile",
    "/postings/acme/2",
    "/sources",
    "/sources/acme",
    "/subscriptions",
    "/subscriptions/interns",
    "/charts",
]


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
@pytest.mark.parametrize("page", PATHS)
def test_page_in_chromium(site: tuple[str, Seeded], browser: object, page: str, viewport: str) -> None:
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webdriver import WebDriver

    assert isinstance(browser, WebDriver)
    base, seeded = site
    path = f"/postings/{seeded.hostile_id}" if page == "hostile" else page
    heading, texts = pages(seeded)[path]
    width, height, mobile = VIEWPORTS[viewport]
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
    )
    browser.get_log("browser")  # drop what earlier pages logged
    browser.get(base + path)

    assert browser.find_element(By.TAG_NAME, "h1").text == heading
    body = browser.find_element(By.TAG_NAME, "body").text
    for text in texts:
        assert text in body, (path, text)
    errors = [entry for entry in browser.get_log("browser") if entry["level"] in ("SEVERE", "ERROR")]
    assert errors == [], errors
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018 — an injected alert() would have opened one
    overflow = browser.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{path} is {overflow}px wider than a {width}px viewport"
