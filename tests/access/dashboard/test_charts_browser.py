"""The charts page in headless Chromium: the hourly and per-door counts and a camera's distance histogram with
its threshold, chosen from the page's own form."""

from datetime import timedelta

import pytest
from django.utils import timezone
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from access.cameras.models import Camera
from tests.access.conftest import make_user
from tests.access.live.conftest import roles  # noqa: F401  (the role groups, after each emptying flush)

from .conftest import TABLET
from .test_charts import add_distances, event

PASSWORD = "unused-pw-123"  # make_user's

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_charts_of_the_day_and_of_a_chosen_camera(browser, camera, person):
    now = timezone.now()
    gate = Camera.objects.create(name="Gate cam", source_url="rtsp://10.0.0.7/stream1")
    for hours_ago in (1, 1, 3, 7, 7, 7, 12):
        event(now - timedelta(hours=hours_ago), "grant", camera, camera.door, person, 0.3)
    for hours_ago in (2, 7, 20):
        event(now - timedelta(hours=hours_ago), "deny", camera, camera.door, distance=0.6)
    add_distances(gate, person, now)
    make_user("viewer")
    browser.log_in("viewer-user", PASSWORD)

    browser.open("/dashboard/charts/")
    bars = browser.driver.find_elements(By.CSS_SELECTOR, "#hourly rect.bar")
    assert len(bars) == 8  # grants in five hours, denies in three
    row = browser.driver.find_element(By.CSS_SELECTOR, '#per-door tr[data-door="Main entrance"]')
    assert [cell.text for cell in row.find_elements(By.CSS_SELECTOR, "td.num")] == ["7", "3", "0"]
    shares = [bar.get_attribute("style") for bar in row.find_elements(By.CSS_SELECTOR, ".share-bar span")]
    assert shares == ["width: 70%;", "width: 30%;", "width: 0%;"]  # the busiest door: 10 in all
    Select(browser.driver.find_element(By.NAME, "camera")).select_by_visible_text("Gate cam")
    Select(browser.driver.find_element(By.NAME, "days")).select_by_visible_text("the last day")
    browser.driver.find_element(By.CSS_SELECTOR, "#histogram-choice button").click()

    heading = browser.wait_for(
        lambda driver: driver.find_element(By.CSS_SELECTOR, "#distances h2").text == (
            "Match distances at Gate cam, the last day"
        ),
        "the histogram of the camera chosen",
    )
    assert heading
    marker = browser.driver.find_element(By.CSS_SELECTOR, "#distances .marker-label")
    assert marker.text == "threshold 0.4"
    assert browser.driver.find_element(By.CSS_SELECTOR, ".margin-value").text == "0.190"
    assert len(browser.driver.find_elements(By.CSS_SELECTOR, "#distances rect.bar")) == 5
    browser.screenshot("charts")
    browser.driver.execute_script("document.getElementById('distances').scrollIntoView();")
    browser.screenshot("charts-histogram")
    browser.screenshot("charts-tablet", TABLET)
    overflow = browser.driver.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth;"
    )
    assert overflow <= 0, f"the charts scroll sideways by {overflow} px at tablet width"
