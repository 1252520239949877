"""Detection in areas of an image against detection in the whole image, on real photos and a real clip."""

import cv2
import numpy as np
import pytest
import torch

from access.decisions.tracking import iou
from recognition.images import read_rgb
from recognition.models.detector import FaceDetector
from recognition.pipeline import SearchArea, detect_in_areas
from tests.facedata import FACEDATA

SCENES = FACEDATA / "scenes"
GROUPS = (  # photos with 2 to 5 faces of 80 px and more
    "group_3ddfa_trump_hillary.jpg",
    "group_deepface_couple.jpg",
    "group_deepface_selfie-many-people.jpg",
    "group_dlib_2008_001322.jpg",
    "group_dlib_2008_002506.jpg",
    "group_dlib_2009_004587.jpg",
)
CLIP = FACEDATA / "video" / "WDA_KatieHill_000.mp4"  # a talking head: the face moves a little every frame
MIN_FACE_SIZE = 80
SAME_BOX_IOU = 0.9

pytestmark = pytest.mark.skipif(not SCENES.is_dir(), reason=f"real face data is absent: no {SCENES}")


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    torch.set_num_threads(1)
    return FaceDetector()


def around(box, margin: float = 0.5) -> SearchArea:
    """The area a tracker searches around a face seen last frame: the box widened by `margin` of its size."""
    x1, y1, x2, y2 = box
    dx, dy = margin * (x2 - x1), margin * (y2 - y1)
    return SearchArea((x1 - dx, y1 - dy, x2 + dx, y2 + dy), face_width=x2 - x1)


def assert_same_faces(found, expected) -> None:
    assert len(found) == len(expected) > 0
    for face in expected:
        best = max(found, key=lambda other: iou(other.box, face.box))
        assert iou(best.box, face.box) >= SAME_BOX_IOU, (best.box, face.box)
        assert best.score == pytest.approx(face.score, abs=0.05)


def clip_frames(every: int = 10, count: int = 12) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(CLIP))
    frames, index = [], 0
    ok, frame = capture.read()
    while ok and len(frames) < count:
        if index % every == 0:
            scaled = cv2.resize(frame, (480, 480), interpolation=cv2.INTER_AREA)
            framed = cv2.copyMakeBorder(scaled, 0, 0, 80, 80, cv2.BORDER_REPLICATE)  # 640x480, as at a door
            frames.append(cv2.cvtColor(framed, cv2.COLOR_BGR2RGB))
        ok, frame = capture.read()
        index += 1
    capture.release()
    return frames


@pytest.mark.parametrize("photo", GROUPS)
def test_areas_around_each_face_find_the_faces_the_whole_photo_gives(detector, photo):
    image = read_rgb(SCENES / photo)
    whole = detector.detect(image, min_face_size=MIN_FACE_SIZE)

    found = detect_in_areas(detector, image, [around(face.box) for face in whole], MIN_FACE_SIZE)

    assert_same_faces(found, whole)


@pytest.mark.parametrize("photo", GROUPS)
def test_a_region_finds_the_faces_of_the_whole_photo_centred_in_it_and_no_other(detector, photo):
    image = read_rgb(SCENES / photo)
    height, width = image.shape[:2]
    region = (0.2 * width, 0.0, 0.8 * width, float(height))  # a door's approach: the middle of the view
    whole = detector.detect(image, min_face_size=MIN_FACE_SIZE)
    inside = [face for face in whole if region[0] <= (face.box[0] + face.box[2]) / 2 < region[2]]
    if not inside:
        pytest.fail(f"{photo} has no face in the middle; pick photos that do")

    found = detect_in_areas(detector, image, [SearchArea(region)], MIN_FACE_SIZE)

    assert_same_faces(found, inside)


def test_following_a_face_through_a_clip_finds_it_where_the_whole_frame_does(detector):
    frames = clip_frames()
    assert len(frames) == 12, f"could not read {CLIP}"
    previous = detector.detect(frames[0], min_face_size=MIN_FACE_SIZE)
    assert len(previous) == 1

    for frame in frames[1:]:
        whole = detector.detect(frame, min_face_size=MIN_FACE_SIZE)
        found = detect_in_areas(detector, frame, [around(face.box) for face in previous], MIN_FACE_SIZE)
        assert_same_faces(found, whole)
        previous = found


def test_areas_away_from_every_face_find_nothing(detector):
    image = read_rgb(SCENES / "group_deepface_couple.jpg")
    height, width = image.shape[:2]
    whole = detector.detect(image, min_face_size=MIN_FACE_SIZE)
    assert len(whole) == 2
    below = max(face.box[3] for face in whole)  # under both faces: shoulders and background

    assert detect_in_areas(detector, image, [SearchArea((0, below, width, height))], MIN_FACE_SIZE) == []
    assert detect_in_areas(detector, image, [], MIN_FACE_SIZE) == []


def test_an_area_outside_the_image_finds_nothing_and_one_around_it_finds_every_face(detector):
    image = read_rgb(SCENES / "group_3ddfa_trump_hillary.jpg")
    height, width = image.shape[:2]
    whole = detector.detect(image, min_face_size=MIN_FACE_SIZE)

    assert detect_in_areas(detector, image, [SearchArea((width + 10, 0, width + 300, height))]) == []
    found = detect_in_areas(detector, image, [SearchArea((-50, -50, width + 50, height + 50))], MIN_FACE_SIZE)
    assert [face.box for face in found] == [face.box for face in whole]
