"""The cameras page in headless Chromium: the latest frame, a real photo decrypted through the snapshot URL,
with its decision over it and the faces of the recent decisions boxed where they were, and the frame
counters; at desktop and tablet width."""

import pytest
from selenium.webdriver.common.by import By

from access.cameras.services import record_frame_stats, touch_heartbeat
from access.core.images import decode_image
from access.events.services import record_event
from tests.access.conftest import make_user
from tests.access.live.conftest import roles  # noqa: F401  (the role groups, after each emptying flush)

from .conftest import TABLET

PASSWORD = "unused-pw-123"  # make_user's

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_latest_frame_and_counters_of_a_camera(browser, camera, person, photo_bytes):
    record_frame_stats(camera.pk, read=300, sent=280, dropped=20, analysed=275, stale=5)
    touch_heartbeat(camera.pk, frames_per_second=5.0)
    photo = decode_image(photo_bytes)
    # The faces' boxes in the photo's pixels: the grant's face in the middle, the earlier deny's top left.
    boxes = {"deny": (0, 0, photo.width * 0.25, photo.height * 0.25),
             "grant": (photo.width * 0.25, photo.height * 0.2, photo.width * 0.75, photo.height * 0.8)}
    for key, decision in (("cam-deny", "deny"), ("cam-grant", "grant")):
        record_event(key, snapshot=photo, face_box=boxes[decision], camera=camera, door=camera.door,
                     person=person if decision == "grant" else None, decision=decision,
                     distance=0.318 if decision == "grant" else 0.702, reason=decision)
    make_user("operator")
    browser.log_in("operator-user", PASSWORD)

    browser.open("/dashboard/cameras/")

    card = browser.driver.find_element(By.CSS_SELECTOR, f'[data-camera-id="{camera.pk}"]')
    frame = card.find_element(By.CSS_SELECTOR, "img.latest-frame")
    loaded_width = "return arguments[0].complete && arguments[0].naturalWidth"
    width = browser.wait_for(
        lambda driver: driver.execute_script(loaded_width, frame),
        "the latest frame to load through the authorised snapshot URL",
    )
    assert width == decode_image(photo_bytes).width
    overlay = card.find_element(By.CSS_SELECTOR, ".overlay").text.split("\n")
    assert overlay[:3] == ["GRANT", "Abdullah Gul", "0.318"]
    assert card.find_element(By.CSS_SELECTOR, ".fps").text == "5.0"
    assert card.find_element(By.CSS_SELECTOR, ".dropped").text == "20"
    assert card.find_element(By.CSS_SELECTOR, ".service").text == "Reading"
    assert len(card.find_elements(By.CSS_SELECTOR, ".decisions li")) == 2
    shown = frame.rect
    for decision, (left, top, right, bottom) in boxes.items():
        drawn = card.find_element(By.CSS_SELECTOR, f".face-box.decision-{decision}").rect
        expected = {"x": shown["x"] + left / photo.width * shown["width"],
                    "y": shown["y"] + top / photo.height * shown["height"],
                    "width": (right - left) / photo.width * shown["width"],
                    "height": (bottom - top) / photo.height * shown["height"]}
        for edge, at in expected.items():
            assert abs(drawn[edge] - at) <= 2, f"the {decision} box's {edge} is {drawn[edge]}, not {at:.1f}"
    browser.screenshot("cameras")
    browser.screenshot("cameras-tablet", TABLET)
    overflow = browser.driver.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth;"
    )
    assert overflow <= 0, f"the cameras page scrolls sideways by {overflow} px at tablet width"
