"""Parity of the torch MMOD face detector with dlib-bin's cnn_face_detection_model_v1 on real photos.

Every face dlib finds must be found with IoU >= 0.9 and a score within 0.05, and no other face may be found:
on LFW portraits, the larger photos of the three extra people, group photos, photos without a face, video
and webcam frames; at upsample 0, and at upsample 1 on small portraits. With the pyramid bounded by a
minimum and maximum face size, every dlib face within the bounds must still be found (with dlib's box and
score: the cells searched see exactly what they see in dlib's whole pyramid).
"""

import cv2
import numpy as np
import pytest

from recognition.images import read_rgb
from recognition.models.detector import FaceDetector
from recognition.models.weights import dat_path
from tests.facedata import FACEDATA

dlib = pytest.importorskip("dlib", reason="dlib-bin is the reference for the parity test")

MIN_IOU = 0.9
MAX_SCORE_DIFFERENCE = 0.05
LFW_SAMPLE = 8  # the first photo of people spread evenly through the sorted LFW names
EXTRA_PHOTOS = ("Barack_Obama/1.jpg", "Kit_Harington/2.jpg", "Alex_Lacamoire/1.jpg")
GROUPS = (  # a face cut by the image border, a collage, six faces, a portrait-format photo, a press photo
    "group_deepface_selfie-many-people.jpg",
    "group_dlib_bald_guys.jpg",
    "group_faceapi_bbt4.jpg",
    "group_face_recognition_kit_with_rose.jpg",
    "group_face_recognition_obama_and_biden.jpg",
)
NO_FACE = ("noface_dlib_dogs.jpg", "noface_skimage_chelsea.png", "noface_skimage_coins.png")
VIDEO_FRAMES = (  # talking heads, a stage performance, a 640x480 webcam
    ("video/WDA_KatieHill_000.mp4", 40),
    ("video/retalking_face_2.mp4", 30),
    ("video/short_hamilton_clip.mp4", 100),
    ("liveness/videos/live_real2.webm", 80),
)
UPSAMPLED = 3  # the first LFW photos, also compared at upsample 1
BOUNDS = ((100, None), (140, 480), (None, 100))  # (min_face_size, max_face_size)

pytestmark = pytest.mark.skipif(not FACEDATA.is_dir(), reason=f"real face data is absent: no {FACEDATA}")


def video_frame(name: str, index: int) -> np.ndarray:
    capture = cv2.VideoCapture(str(FACEDATA / name))
    capture.set(cv2.CAP_PROP_POS_FRAMES, index)
    ok, frame = capture.read()
    capture.release()
    assert ok, f"cannot read frame {index} of {name}"
    if frame.shape[1] > 640:  # brought to 640 px wide, like the photos, to keep dlib's time down
        frame = cv2.resize(frame, (640, 640 * frame.shape[0] // frame.shape[1]), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


def photos() -> dict[str, np.ndarray]:
    identities = FACEDATA / "identities"
    extra_people = {photo.split("/")[0] for photo in EXTRA_PHOTOS}
    people = sorted(p for p in identities.iterdir() if p.is_dir() and p.name not in extra_people)
    chosen = {}
    for person in people[:: len(people) // LFW_SAMPLE][:LFW_SAMPLE]:
        first = min(person.glob("*.jpg"), key=lambda path: int(path.stem))
        chosen[f"{person.name}/{first.name}"] = read_rgb(first)
    chosen |= {name: read_rgb(identities / name) for name in EXTRA_PHOTOS}
    chosen |= {name: read_rgb(FACEDATA / "scenes" / name) for name in GROUPS + NO_FACE}
    chosen |= {f"{name}#{index}": video_frame(name, index) for name, index in VIDEO_FRAMES}
    return chosen


@pytest.fixture(scope="module")
def images() -> dict[str, np.ndarray]:
    return photos()


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector()


@pytest.fixture(scope="module")
def dlib_faces(images) -> dict[tuple[str, int], list[tuple[tuple[float, ...], float]]]:
    """dlib's (box in pixel-edge coordinates, score) for each (photo, upsample)."""
    model = dlib.cnn_face_detection_model_v1(str(dat_path("mmod_human_face_detector.dat")))
    runs = [(name, 0) for name in images] + [(name, 1) for name in list(images)[:UPSAMPLED]]
    faces = {}
    for name, upsample in runs:
        detections = model(images[name], upsample)
        faces[name, upsample] = [
            ((d.rect.left(), d.rect.top(), d.rect.right() + 1, d.rect.bottom() + 1), d.confidence)
            for d in detections
        ]
    return faces


def iou(a, b) -> float:
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    inner = max(width, 0) * max(height, 0)
    return inner / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inner)


def mismatches(expected, found, name: str) -> tuple[list[str], list[float], list[float]]:
    """What differs between dlib's faces and ours, and the IoU and score difference of each matched face."""
    problems, ious, score_differences = [], [], []
    unmatched = list(found)
    for box, score in expected:
        best = max(unmatched, key=lambda face: iou(box, face.box), default=None)
        if best is None or iou(box, best.box) < MIN_IOU:
            problems.append(f"{name}: dlib's face {box} ({score:.3f}) not found")
            continue
        unmatched.remove(best)
        ious.append(iou(box, best.box))
        score_differences.append(abs(best.score - score))
        if score_differences[-1] > MAX_SCORE_DIFFERENCE:
            problems.append(f"{name}: score {best.score:.3f} for dlib's {score:.3f} at {box}")
    problems += [f"{name}: extra face {face.box} ({face.score:.3f})" for face in unmatched]
    return problems, ious, score_differences


def test_same_faces_and_scores_as_dlib(images, detector, dlib_faces):
    problems, ious, score_differences = [], [], []
    for (name, upsample), expected in dlib_faces.items():
        found = detector.detect(images[name], upsample=upsample)
        result = mismatches(expected, found, f"{name} upsample {upsample}")
        for collected, new in zip((problems, ious, score_differences), result, strict=True):
            collected += new
    print(f"\n{len(ious)} faces: min IoU {min(ious):.4f}, max score difference {max(score_differences):.6f}")
    assert not problems, "\n".join(problems)
    assert len(ious) >= 25, "too few faces found to call this parity"


def test_photos_without_a_face_give_none(images, detector, dlib_faces):
    for name in NO_FACE:
        assert dlib_faces[name, 0] == [], f"dlib finds a face in {name}: the photo is no negative"
        assert detector.detect(images[name]) == [], name


@pytest.mark.parametrize(("min_face_size", "max_face_size"), BOUNDS)
def test_bounded_pyramid_finds_every_dlib_face_within_the_bounds(
    images, detector, dlib_faces, min_face_size, max_face_size
):
    problems, compared = [], 0
    for name, image in images.items():
        expected = [
            (box, score)
            for box, score in dlib_faces[name, 0]
            if (min_face_size or 0) <= box[2] - box[0] <= (max_face_size or np.inf)
        ]
        found = detector.detect(image, min_face_size=min_face_size, max_face_size=max_face_size)
        missed, _, _ = mismatches(expected, found, f"{name} bounds {min_face_size}..{max_face_size}")
        problems += [problem for problem in missed if "extra face" not in problem]
        compared += len(expected)
    assert not problems, "\n".join(problems)
    assert compared >= 5, f"too few dlib faces within {min_face_size}..{max_face_size} px to test the bounds"
