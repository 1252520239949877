"""Browser tests drive Debian's headless Chromium (Selenium, through /usr/bin/chromedriver) against Django's
live server. Nothing is downloaded: the browser and its driver come from apt (chromium, chromium-driver).
Each test module shares one browser, which each test finds without cookies or cache."""

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.access.live.conftest import server, stream_timing  # noqa: F401  (the live stream's test server)
from tests.conftest import IN_CI, REPO_ROOT

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOTS = REPO_ROOT / "test-artifacts" / "screenshots"
# A tablet held upright: the narrowest width the dashboard is laid out for.
TABLET = (820, 1180)
DESKTOP = (1366, 900)
# A ceiling for the page to show a change, not a speed goal.
SHOWS_WITHIN_S = 10.0


@pytest.fixture(scope="module")
def chromium_arguments() -> tuple[str, ...]:
    """Extra command-line switches for Chromium; a test module overrides this (a fake webcam, say)."""
    return ()


@pytest.fixture(scope="module")
def chromium(chromium_arguments) -> Iterator["WebDriver"]:
    """One headless Chromium for the tests of a module: starting one takes longer than most tests."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        reason = (
            f"headless Chromium needs {CHROMIUM} and {CHROMEDRIVER} "
            "(apt-get install chromium chromium-driver; deploy/local/start-test-services.sh does)"
        )
        if IN_CI:
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="facegate-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--no-first-run",
        # A page left stays alive in the back-forward cache, its live stream open: no such cache.
        "--disable-back-forward-cache",
        f"--user-data-dir={profile}", f"--window-size={DESKTOP[0]},{DESKTOP[1]}", *chromium_arguments,
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def browser(server, chromium) -> Iterator["Browser"]:  # noqa: F811 (the fixture imported above)
    """The module's Chromium as a new visitor would find it: no cookies, nothing cached, desktop width."""
    from selenium.common.exceptions import NoAlertPresentException

    chromium.execute_cdp_cmd("Network.clearBrowserCookies", {})
    chromium.execute_cdp_cmd("Network.clearBrowserCache", {})
    chromium.set_window_size(*DESKTOP)
    try:
        yield Browser(chromium, server.url)
    finally:
        try:
            chromium.switch_to.alert.dismiss()  # a failed step may leave a dialog that blocks the next test
        except NoAlertPresentException:
            pass
        # Leaving the page closes its live stream before the server checks that none is left open.
        chromium.get("about:blank")


class Browser:
    """The driver with the few steps these tests repeat."""

    def __init__(self, driver, base_url: str) -> None:
        self.driver, self.base_url = driver, base_url

    def open(self, path: str) -> None:
        self.driver.get(self.base_url + path)

    def log_in(self, username: str, password: str) -> None:
        from selenium.webdriver.common.by import By

        self.open("/dashboard/login/")
        self.driver.find_element(By.NAME, "username").send_keys(username)
        self.driver.find_element(By.NAME, "password").send_keys(password)
        self.driver.find_element(By.CSS_SELECTOR, "form.login button[type=submit]").click()
        self.wait_for(lambda driver: driver.find_elements(By.ID, "events"), "the live feed after signing in")

    def wait_for(self, condition, what: str, timeout: float = SHOWS_WITHIN_S):
        from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
        from selenium.webdriver.support.ui import WebDriverWait

        # The page swaps in a fresh fragment for each streamed change: an element may go between two looks.
        ignored = (NoSuchElementException, StaleElementReferenceException)
        return WebDriverWait(self.driver, timeout, poll_frequency=0.05, ignored_exceptions=ignored).until(
            condition, message=f"waited {timeout} s for {what}"
        )

    def wait_until_live(self) -> None:
        from selenium.webdriver.common.by import By

        self.wait_for(
            lambda driver: driver.find_element(By.ID, "stream-status").get_attribute("data-state") == "live",
            "the live stream to connect",
        )

    def screenshot(self, name: str, size: tuple[int, int] = DESKTOP) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.driver.set_window_size(*size)
        self.wait_for(
            lambda driver: driver.execute_script(
                "return Array.from(document.images)"
                ".filter(image => image.getBoundingClientRect().top < window.innerHeight)"
                ".every(image => image.complete);"
            ),
            f"the thumbnails in view before the screenshot {name}",
        )
        path = SCREENSHOTS / f"{name}.png"
        assert self.driver.save_screenshot(str(path)), f"the screenshot {path} was not written"
        return path
