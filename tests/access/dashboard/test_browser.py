"""The dashboard in headless Chromium: sign in, watch events arrive live, answer an alert, and the limits of a
viewer. Each page is photographed under test-artifacts/screenshots/."""

from itertools import count

import pytest
from selenium.webdriver.common.by import By

from access.alerts.models import Alert
from access.alerts.services import raise_alert
from access.core.images import decode_image
from access.dashboard.views import feed
from access.events.services import record_event
from tests.access.conftest import make_user
from tests.access.live.conftest import roles  # noqa: F401  (the role groups, after each emptying flush)

from .conftest import TABLET

PASSWORD = "unused-pw-123"  # make_user's
_serial = count()

pytestmark = pytest.mark.django_db(transaction=True)


def new_event(camera, person=None, decision="deny", snapshot=None, distance=0.412):
    event, _ = record_event(
        f"dashboard-{next(_serial)}", snapshot=snapshot, camera=camera, door=camera.door, person=person,
        distance=distance, decision=decision, reason="Blocklisted: trespass" if person else "Unknown face",
    )
    return event


def wait_for_db(browser, condition, what: str) -> None:
    browser.wait_for(lambda _: condition(), what)


def test_sign_in_page(browser):
    browser.open("/dashboard/")

    assert "/dashboard/login/" in browser.driver.current_url
    browser.screenshot("login")


def test_a_committed_event_appears_without_reload(browser, camera, person, photo_bytes):
    make_user("operator")
    browser.log_in("operator-user", PASSWORD)
    browser.wait_until_live()
    browser.driver.execute_script("window.sameDocument = true;")  # gone if the page reloads

    event = new_event(camera, person, decision="grant", snapshot=decode_image(photo_bytes))

    row = browser.wait_for(
        lambda driver: driver.find_element(By.CSS_SELECTOR, f'[data-event-id="{event.pk}"]'),
        "the new event in the feed",
    )
    assert browser.driver.execute_script("return window.sameDocument === true;")
    assert row.find_element(By.CSS_SELECTOR, ".decision").text == "GRANT"
    assert row.find_element(By.CSS_SELECTOR, ".person").text == "Abdullah Gul"
    assert row.find_element(By.CSS_SELECTOR, ".door").text == "Main entrance"
    assert row.find_element(By.CSS_SELECTOR, ".camera").text == "Main entrance cam"
    assert row.find_element(By.CSS_SELECTOR, ".distance").text == "distance 0.412"
    first = browser.driver.find_element(By.CSS_SELECTOR, "#events > li")
    assert first.get_attribute("data-event-id") == str(event.pk), "new events go on top"
    thumbnail = row.find_element(By.CSS_SELECTOR, "img.snapshot")
    browser.wait_for(
        lambda driver: driver.execute_script(
            "return arguments[0].complete && arguments[0].naturalWidth", thumbnail
        ),
        "the snapshot thumbnail to load through the authorised snapshot URL",
    )
    browser.screenshot("feed")


def test_the_feed_keeps_its_length_as_events_stream_in(browser, camera, monkeypatch):
    monkeypatch.setattr(feed, "FEED_LENGTH", 2)
    shown_first = [new_event(camera), new_event(camera)]
    make_user("viewer")
    browser.log_in("viewer-user", PASSWORD)
    browser.wait_until_live()

    latest = new_event(camera)

    browser.wait_for(
        lambda driver: driver.find_elements(By.CSS_SELECTOR, f'[data-event-id="{latest.pk}"]'),
        "the new event",
    )
    rows = browser.driver.find_elements(By.CSS_SELECTOR, "#events > li")
    shown = [row.get_attribute("data-event-id") for row in rows]
    assert shown == [str(latest.pk), str(shown_first[1].pk)]


def test_the_feed_fits_a_tablet(browser, camera, person, photo_bytes):
    for decision in ("grant", "deny"):
        new_event(camera, person, decision=decision, snapshot=decode_image(photo_bytes))
    make_user("viewer")
    browser.log_in("viewer-user", PASSWORD)

    browser.screenshot("feed-tablet", TABLET)

    overflow = browser.driver.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth;"
    )
    assert overflow <= 0, f"the feed scrolls sideways by {overflow} px at tablet width"
    assert len(browser.driver.find_elements(By.CSS_SELECTOR, "#events > li[data-event-id]")) == 2


def test_an_operator_answers_a_blocklist_alert_from_the_page(browser, camera, person, photo_bytes):
    make_user("operator")
    browser.log_in("operator-user", PASSWORD)
    browser.wait_until_live()

    sighting = new_event(camera, person, decision="alert", snapshot=decode_image(photo_bytes), distance=0.3)
    alert, _ = raise_alert(Alert.Kind.BLOCKLIST, event=sighting)

    banner_css = f'#alerts [data-alert-id="{alert.pk}"]'
    banner = browser.wait_for(
        lambda driver: driver.find_element(By.CSS_SELECTOR, banner_css), "the alert banner"
    )
    assert "Blocklisted person" in banner.text
    assert "Abdullah Gul" in banner.text
    assert browser.driver.execute_script("return Number(document.body.dataset.alertSounds || 0);") == 1
    browser.screenshot("alert")

    banner.find_element(By.CSS_SELECTOR, "button.acknowledge").click()

    wait_for_db(
        browser,
        lambda: Alert.objects.get(pk=alert.pk).state == Alert.State.ACKNOWLEDGED,
        "the acknowledgement",
    )
    browser.wait_for(
        lambda driver: driver.find_element(By.CSS_SELECTOR, banner_css).get_attribute("data-state")
        == "acknowledged",
        "the banner to show the acknowledgement",
    )
    acknowledged = Alert.objects.get(pk=alert.pk)
    assert acknowledged.acknowledged_by.username == "operator-user"
    browser.screenshot("alert-acknowledged")

    banner = browser.driver.find_element(By.CSS_SELECTOR, banner_css)
    assert not banner.find_elements(By.CSS_SELECTOR, "button.acknowledge")
    banner.find_element(By.CSS_SELECTOR, "input.note").send_keys("Escorted out by security")
    banner.find_element(By.CSS_SELECTOR, "button.resolve").click()

    wait_for_db(
        browser, lambda: Alert.objects.get(pk=alert.pk).state == Alert.State.RESOLVED, "the resolution"
    )
    browser.wait_for(lambda driver: not driver.find_elements(By.CSS_SELECTOR, banner_css), "the banner to go")
    assert Alert.objects.get(pk=alert.pk).resolution_note == "Escorted out by security"


def test_a_viewer_watches_but_cannot_act_or_reach_admin_pages(browser, camera, person):
    alert, _ = raise_alert(Alert.Kind.BLOCKLIST, event=new_event(camera, person, decision="alert"))
    make_user("viewer")
    browser.log_in("viewer-user", PASSWORD)
    browser.wait_until_live()

    banner = browser.driver.find_element(By.CSS_SELECTOR, f'#alerts [data-alert-id="{alert.pk}"]')
    assert "Blocklisted person" in banner.text
    assert not banner.find_elements(By.CSS_SELECTOR, "button")
    later = new_event(camera, decision="deny", distance=0.9)
    browser.wait_for(
        lambda driver: driver.find_elements(By.CSS_SELECTOR, f'[data-event-id="{later.pk}"]'),
        "the viewer's feed to follow the stream",
    )
    browser.screenshot("feed-viewer")

    for admin_page in ("/admin/", "/admin/alerts/alert/", "/admin/people/person/"):
        browser.open(admin_page)
        assert "/admin/login/" in browser.driver.current_url, f"a viewer reached {admin_page}"
    browser.screenshot("viewer-admin-refused")
    assert Alert.objects.get(pk=alert.pk).state == Alert.State.NEW


def test_a_feed_whose_session_ended_says_so_and_shows_no_sign_in_page_as_a_row(browser, camera):
    make_user("viewer")
    browser.log_in("viewer-user", PASSWORD)
    browser.wait_until_live()
    browser.driver.execute_cdp_cmd("Network.clearBrowserCookies", {})  # signed out, as by an expired session

    later = new_event(camera)

    status = browser.wait_for(
        lambda driver: driver.find_element(By.CSS_SELECTOR, '#stream-status[data-state="signed-out"]'),
        "the page to say the session has ended",
    )
    assert status.text == "Signed out: reload the page to sign in again"
    assert not browser.driver.find_elements(By.CSS_SELECTOR, f'[data-event-id="{later.pk}"]')
    assert browser.driver.find_elements(By.CSS_SELECTOR, "#events > li.empty"), "nothing was put in the feed"
