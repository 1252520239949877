"""Enrollment from the browser's webcam, in headless Chromium with a fake camera that plays a real photo
(`--use-file-for-fake-video-capture`): getUserMedia -> canvas -> JPEG -> upload form -> the real worker."""

from pathlib import Path

import cv2
import numpy as np
import pytest
from django.urls import reverse
from selenium.webdriver.common.by import By

from access.people.models import FaceSample
from recognition.images import read_rgb
from tests.access.conftest import IDENTITIES, make_user
from tests.access.live.conftest import roles  # noqa: F401  (the role groups, after each emptying flush)

PASSWORD = "unused-pw-123"  # make_user's
PHOTO = IDENTITIES / "Kit_Harington" / "3.jpg"  # accepted with and without the face parser
CAMERA_SIZE = (640, 480)
WORKER_WAIT_S = 180  # a cold worker loads the engine first, on a shared CPU

# The mean brightness (0-255) of what the page's video element shows now.
VIDEO_BRIGHTNESS = """
const video = document.getElementById("webcam-video");
if (!video.videoWidth) return 0;
const canvas = document.createElement("canvas");
canvas.width = 64;
canvas.height = 48;
const context = canvas.getContext("2d");
context.drawImage(video, 0, 0, 64, 48);
const pixels = context.getImageData(0, 0, 64, 48).data;
let sum = 0;
for (let i = 0; i < pixels.length; i += 4) sum += pixels[i] + pixels[i + 1] + pixels[i + 2];
return sum / (pixels.length / 4 * 3);
"""

pytestmark = pytest.mark.django_db(transaction=True)


def camera_frame() -> np.ndarray:
    """The photo as a 640x480 camera picture (RGB): scaled to fit, on grey."""
    photo = read_rgb(PHOTO)
    width, height = CAMERA_SIZE
    scale = min(width / photo.shape[1], height / photo.shape[0])
    fitted = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    frame = np.full((height, width, 3), 128, np.uint8)
    top, left = (height - fitted.shape[0]) // 2, (width - fitted.shape[1]) // 2
    frame[top : top + fitted.shape[0], left : left + fitted.shape[1]] = fitted
    return frame


def write_y4m(path: Path, frame: np.ndarray, frames: int = 10) -> None:
    """A still clip in the YUV4MPEG2 format Chromium's fake camera plays (4:2:0, looped)."""
    height, width = frame.shape[:2]
    planes = cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420).tobytes()
    with path.open("wb") as clip:
        clip.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            clip.write(b"FRAME\n" + planes)


@pytest.fixture(scope="module")
def chromium_arguments(tmp_path_factory) -> tuple[str, ...]:
    if not PHOTO.is_file():
        pytest.skip(f"the real photo {PHOTO} is missing (set FACEGATE_FACEDATA)")
    clip = tmp_path_factory.mktemp("webcam") / "webcam.y4m"
    write_y4m(clip, camera_frame())
    return (
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",  # grants the camera without asking
        f"--use-file-for-fake-video-capture={clip}",
    )


def test_a_photo_taken_with_the_webcam_is_enrolled(browser, celery_worker, person, settings):
    settings.MEDIA_ROOT = str(celery_worker.media_root)  # the worker reads the photos this server stores
    make_user("operator")
    browser.log_in("operator-user", PASSWORD)
    browser.open(reverse("dashboard:person", args=[person.pk]))

    browser.driver.find_element(By.ID, "webcam-start").click()
    take = browser.wait_for(
        lambda driver: driver.find_element(By.CSS_SELECTOR, "#webcam-take:enabled"), "the camera to start"
    )
    # The fake camera's first frames may still be black before it shows the photo.
    browser.wait_for(lambda driver: driver.execute_script(VIDEO_BRIGHTNESS) > 40, "the photo on the camera")
    browser.driver.execute_script("document.getElementById('webcam').scrollIntoView();")
    browser.screenshot("person-webcam")
    take.click()

    sample = browser.wait_for(lambda _: FaceSample.objects.filter(person=person).first(), "the webcam photo")
    assert (sample.width, sample.height) == CAMERA_SIZE
    assert sample.image.name.endswith(".jpg") and sample.uploaded_by.username == "operator-user"
    with sample.image.open() as stored:
        taken = read_rgb(stored.read())
    difference = np.abs(taken.astype(int) - camera_frame().astype(int)).mean()
    assert difference < 12, f"the stored photo is not the camera's picture (mean difference {difference:.1f})"
    browser.wait_for(
        lambda driver: driver.find_element(By.CSS_SELECTOR, f'#sample-{sample.pk}[data-state="enrolled"]'),
        "the webcam photo to be enrolled", timeout=WORKER_WAIT_S,
    )
    browser.screenshot("person-webcam-enrolled")
