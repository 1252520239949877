"""Doors in headless Chromium: an operator opens a door by hand after confirming, and the command reaches
the door's controller over a real Mosquitto; a viewer finds the operations pages closed and no
buttons to press."""

import json

import pytest
from selenium.webdriver.common.by import By

from access.audit.models import AuditLog
from access.doors import services
from access.doors.models import DoorCommand
from tests.access.conftest import make_user
from tests.access.doors.conftest import mqtt_broker, mqtt_door, subscribe, topic_prefix  # noqa: F401
from tests.access.live.conftest import roles  # noqa: F401  (the role groups, after each emptying flush)

from .conftest import TABLET

PASSWORD = "unused-pw-123"  # make_user's
OPERATIONS_PAGES = ["/dashboard/watchlists/", "/dashboard/doors/", "/dashboard/cameras/", "/dashboard/audit/"]

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_operator_opens_a_door_after_confirming(browser, subscribe, mqtt_door):  # noqa: F811
    controller = subscribe()
    services.record_heartbeat(mqtt_door.pk, state="locked")
    operator = make_user("operator")
    browser.log_in("operator-user", PASSWORD)

    browser.open("/dashboard/doors/")
    card = browser.driver.find_element(By.CSS_SELECTOR, f'[data-door-id="{mqtt_door.pk}"]')
    assert card.find_element(By.CSS_SELECTOR, ".connection").text == "Online"
    assert card.find_element(By.CSS_SELECTOR, ".lock-state").text.startswith("Locked")
    browser.screenshot("doors")
    browser.screenshot("doors-tablet", TABLET)
    card.find_element(By.CSS_SELECTOR, "a.open-door").click()

    browser.wait_for(lambda driver: driver.find_elements(By.ID, "confirm-open"), "the confirmation page")
    assert browser.driver.find_element(By.TAG_NAME, "h1").text == "Open Front door?"
    assert not DoorCommand.objects.exists(), "the door opened before the confirmation"
    browser.driver.find_element(By.NAME, "reason").send_keys("Courier with a trolley")
    browser.screenshot("door-open-confirm")
    browser.driver.find_element(By.CSS_SELECTOR, "#confirm-open button[type=submit]").click()

    message = controller.next_on(f"{mqtt_door.mqtt_topic}/set")
    payload = json.loads(message.payload)
    assert (payload["action"], payload["door_id"], payload["reason"]) == ("open", mqtt_door.pk,
                                                                           "Courier with a trolley")
    notice = browser.wait_for(
        lambda driver: driver.find_element(By.CSS_SELECTOR, ".message.success"), "the confirmation message"
    )
    assert notice.text == "Front door is opening for 5 s."
    command = DoorCommand.objects.get()
    assert (command.user, command.outcome) == (operator, "sent")
    assert str(command.command_id) == payload["command_id"]
    audit = AuditLog.objects.get(content_type__model="doorcommand")
    assert (audit.action, audit.actor_name, audit.object_id) == ("create", "operator-user", str(command.pk))
    row = browser.driver.find_element(By.CSS_SELECTOR, f'#door-commands [data-command-id="{command.pk}"]')
    assert "operator-user" in row.text and "Sent" in row.text
    browser.screenshot("door-opened")


def test_a_viewer_cannot_reach_the_operations_pages_and_has_no_buttons(browser, camera, door):
    make_user("viewer")
    browser.log_in("viewer-user", PASSWORD)

    links = [link.text for link in browser.driver.find_elements(By.CSS_SELECTOR, ".topbar nav a")]
    assert links == ["Live feed", "Charts"]
    for path in OPERATIONS_PAGES + [f"/dashboard/doors/{door.pk}/open/"]:
        browser.open(path)
        assert "403 Forbidden" in browser.driver.page_source, f"a viewer reached {path}"
    browser.screenshot("viewer-doors-refused")

    browser.open("/dashboard/charts/")
    assert browser.driver.find_elements(By.CSS_SELECTOR, "#hourly svg.plot")
    buttons = [button.text for button in browser.driver.find_elements(By.CSS_SELECTOR, "main button")]
    assert buttons == ["Show"], "the only button a viewer gets on the charts is the camera choice"
    assert not DoorCommand.objects.exists()
