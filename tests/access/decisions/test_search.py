"""Where each frame is searched, on real frames: only the camera's detection region; around the faces it
follows while the whole region was searched within its rescan interval; the whole region again after that or
when nothing is followed, so a newcomer is found within the interval."""

import time

import cv2
import pytest

from access.cameras.models import Camera, CameraHealth
from access.decisions.models import Track
from access.decisions.services import search_plan
from recognition.pipeline import engine
from tests.facedata import FACEDATA

from .conftest import ALEXANDRIA, KATIE, allowed, frame, probes, side_by_side, with_own_topics

NO_FACE_PHOTO = FACEDATA / "scenes" / "noface_skimage_coffee.png"


@pytest.fixture
def camera(camera: Camera, settings) -> Camera:
    # These tests stamp frames on a timeline of their own (rescans 500 ms apart); a slow shared CPU must not
    # turn a frame of it stale before it is analysed.
    settings.FACEGATE_MAX_FRAME_AGE_S = 60.0
    return with_own_topics(camera, settings)


def stored(camera: Camera) -> Camera:
    """The camera as the frame function reads it."""
    return Camera.objects.select_related("door", "health").get(pk=camera.pk)


def region_searched_at(camera: Camera) -> float | None:
    searched = CameraHealth.objects.get(camera=camera).region_searched_at
    return None if searched is None else searched.timestamp()


def no_face_half(height: int, width: int):
    """A real photo without a face (a cup of coffee), as the empty side of a door's view."""
    bgr = cv2.imread(str(NO_FACE_PHOTO))
    assert bgr is not None, f"could not read {NO_FACE_PHOTO}"
    return cv2.cvtColor(cv2.resize(bgr, (width, height), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)


def test_a_face_outside_the_detection_region_is_not_looked_for(camera, process):
    allowed("Katie Hill", KATIE, camera)
    first, second = probes(KATIE, 2)  # her face is in the middle of the view
    camera.region_right = 0.2  # the door's approach is the left fifth of the view
    camera.save()

    assert process(camera, first) + process(camera, second) == []
    assert not Track.objects.exists()
    assert region_searched_at(camera) is not None  # the region itself was searched

    camera.region_right = 1.0
    camera.save()
    Track.objects.all().delete()
    [grant] = process(camera, first) + process(camera, second)
    assert grant.decision == "grant"


def test_a_followed_face_is_searched_around_and_still_decided(camera, process):
    allowed("Katie Hill", KATIE, camera)
    first, second, third = probes(KATIE, 3)
    started = time.time()

    assert process(camera, first, captured_at=started) == []
    assert region_searched_at(camera) == pytest.approx(started)
    [track] = Track.objects.all()
    plan = search_plan(
        Camera.objects.select_related("health").get(pk=camera.pk), second.shape[:2], started + 0.1
    )
    assert not plan.whole_region
    [area] = plan.areas
    x1, y1, x2, y2 = track.box
    assert area.face_width == x2 - x1
    assert area.box[0] < x1 and area.box[1] < y1 and area.box[2] > x2 and area.box[3] > y2

    [grant] = process(camera, second, captured_at=started + 0.1)  # K = 2: the second frame decides
    assert grant.decision == "grant"
    assert region_searched_at(camera) == pytest.approx(started)  # searched around her only
    [followed] = Track.objects.all()
    [face] = engine().analyse(second)
    assert followed.pk == track.pk and tuple(followed.box) == face.box  # the box a whole-frame search gives

    assert process(camera, third, captured_at=started + 0.6) == []  # past 500 ms: the whole region again
    assert region_searched_at(camera) == pytest.approx(started + 0.6)


def test_a_newcomer_is_found_at_the_next_whole_region_search(camera, process):
    katie = frame(KATIE, 100)
    height, width = katie.shape[:2]
    alone = side_by_side(katie, no_face_half(height, width))
    together = side_by_side(katie, frame(ALEXANDRIA, 100))
    started = time.time()

    process(camera, alone, captured_at=started)
    assert Track.objects.count() == 1
    process(camera, together, captured_at=started + 0.2)  # searched around Katie only
    assert Track.objects.count() == 1
    # The rescan interval (500 ms) is up; not exactly 500 ms, which the database's microsecond timestamps
    # may round either side of.
    process(camera, together, captured_at=started + 0.6)
    assert Track.objects.count() == 2


def test_every_frame_is_searched_whole_without_tracking_or_when_nothing_is_followed(camera, process):
    katie = probes(KATIE, 1)[0]
    started = time.time()
    fresh = Camera.objects.select_related("health").get(pk=camera.pk)
    assert search_plan(fresh, katie.shape[:2], started).whole_region  # never searched yet

    process(camera, katie, captured_at=started)
    camera.rescan_interval_ms = 0
    camera.save()
    stored = Camera.objects.select_related("health").get(pk=camera.pk)
    assert search_plan(stored, katie.shape[:2], started + 0.1) == search_plan(
        stored, katie.shape[:2], started
    )
    assert search_plan(stored, katie.shape[:2], started + 0.1).whole_region

    camera.rescan_interval_ms = 500
    camera.save()
    Track.objects.all().delete()
    stored = Camera.objects.select_related("health").get(pk=camera.pk)
    assert search_plan(stored, katie.shape[:2], started + 0.1).whole_region  # nobody followed


def test_a_region_is_searched_in_frame_pixels(camera):
    camera.region_left, camera.region_top, camera.region_right, camera.region_bottom = 0.25, 0.1, 0.75, 1.0
    camera.save()
    plan = search_plan(stored(camera), (480, 640), time.time())

    [area] = plan.areas
    assert plan.whole_region and area.box == (160.0, 48.0, 480.0, 480.0) and area.face_width is None
