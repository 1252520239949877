"""Enrollment quality verdicts on real photos, and the pose figures on keypoints of known geometry."""

import math

import cv2
import numpy as np
import pytest
from PIL import Image

from recognition.config import EngineConfig
from recognition.gallery import Gallery
from recognition.images import read_rgb
from recognition.pipeline import Engine
from recognition.quality import NOSE_DEPTH_RATIO, conflicting_person, roll, yaw
from tests.facedata import FACEDATA

IDENTITIES = FACEDATA / "identities"
FRONTAL = IDENTITIES / "Barack_Obama" / "1.jpg"  # sharp, frontal (yaw about 1 degree), nothing over the face
TURNED = IDENTITIES / "Arnold_Schwarzenegger" / "1.jpg"  # turned towards the image's right, about 42 degrees

needs_facedata = pytest.mark.skipif(
    not IDENTITIES.is_dir(), reason=f"real face data is absent: no {IDENTITIES}"
)


@pytest.fixture(scope="module")
def cpu_engine() -> Engine:
    return Engine(EngineConfig(device="cpu"))


@needs_facedata
def test_a_sharp_frontal_face_is_accepted_with_its_figures(cpu_engine):
    enrollment = cpu_engine.analyse_enrollment(read_rgb(FRONTAL))

    assert enrollment.verdict.accepted, enrollment.verdict.rejection_reason
    figures = enrollment.verdict.figures
    assert set(figures) == {
        "face_count",
        "face_size",
        "sharpness",
        "yaw",
        "roll",
        "detector_score",
        "occluded",
    }
    assert figures["occluded"] == 0
    assert figures["face_count"] == 1 and figures["face_size"] >= 80 and figures["detector_score"] > 0.5
    assert abs(figures["yaw"]) < 10 and abs(figures["roll"]) < 10
    assert enrollment.code is enrollment.faces[0].code and enrollment.code.shape == (128,)


@needs_facedata
def test_a_group_photo_is_rejected_for_showing_several_people(cpu_engine):
    photo = FACEDATA / "scenes" / "group_3ddfa_trump_hillary.jpg"

    enrollment = cpu_engine.analyse_enrollment(read_rgb(photo))

    assert enrollment.verdict.reasons == ("2 faces found; enrollment photos must show one person",)
    assert enrollment.verdict.figures == {"face_count": 2.0}
    assert enrollment.code is None


@needs_facedata
def test_a_photo_without_a_face_is_rejected(cpu_engine):
    enrollment = cpu_engine.analyse_enrollment(read_rgb(FACEDATA / "scenes" / "noface_skimage_chelsea.png"))

    assert enrollment.verdict.rejection_reason == "no face found"
    assert enrollment.code is None


@needs_facedata
def test_a_blurred_copy_is_rejected_as_blurred_and_for_nothing_else(cpu_engine):
    blurred = cv2.GaussianBlur(read_rgb(FRONTAL), (0, 0), 3)

    verdict = cpu_engine.analyse_enrollment(blurred).verdict

    assert len(verdict.reasons) == 1 and verdict.reasons[0].startswith("the face is blurred"), verdict.reasons
    sharp = cpu_engine.analyse_enrollment(read_rgb(FRONTAL)).verdict.figures["sharpness"]
    assert verdict.figures["sharpness"] < 0.2 * sharp


@needs_facedata
def test_a_downscaled_face_is_found_and_rejected_as_too_small(cpu_engine):
    image = read_rgb(FRONTAL)
    small = np.asarray(Image.fromarray(image).resize((120, 120), Image.Resampling.LANCZOS))  # a 40 px box

    verdict = cpu_engine.analyse_enrollment(small).verdict

    assert verdict.figures["face_count"] == 1 and verdict.figures["face_size"] < 60
    too_small = f"the face is {verdict.figures['face_size']:.0f} px wide, enrollment needs at least 80 px"
    assert [reason for reason in verdict.reasons if reason.startswith(too_small)], verdict.reasons


@needs_facedata
def test_a_copy_turned_45_degrees_is_rejected_as_tilted(cpu_engine):
    turned = np.asarray(Image.fromarray(read_rgb(FRONTAL)).rotate(45, Image.Resampling.BICUBIC, expand=True))

    verdict = cpu_engine.analyse_enrollment(turned).verdict

    # Pillow turns counter-clockwise on screen, so the image-right eye rises: negative roll
    assert -55 < verdict.figures["roll"] < -35
    assert [reason for reason in verdict.reasons if reason.startswith("the head is tilted")], verdict.reasons


@needs_facedata
def test_a_face_turned_sideways_is_rejected_and_its_mirror_image_turns_the_other_way(cpu_engine):
    image = read_rgb(TURNED)

    verdict = cpu_engine.analyse_enrollment(image).verdict
    mirrored = cpu_engine.analyse_enrollment(np.ascontiguousarray(image[:, ::-1])).verdict

    assert verdict.figures["yaw"] > 30
    assert [reason for reason in verdict.reasons if reason.startswith("the face is turned sideways")]
    assert mirrored.figures["yaw"] == pytest.approx(-verdict.figures["yaw"], abs=4)
    assert mirrored.figures["roll"] == pytest.approx(-verdict.figures["roll"], abs=4)


@needs_facedata
def test_a_face_within_the_threshold_of_another_persons_samples_is_a_conflict(cpu_engine):
    photos = sorted((IDENTITIES / "Abdoulaye_Wade").glob("*.jpg"), key=lambda photo: int(photo.stem))
    enrolled, again = (cpu_engine.analyse(read_rgb(photo))[0].code for photo in photos[:2])
    stranger = cpu_engine.analyse(read_rgb(FRONTAL))[0].code
    gallery = Gallery()
    gallery.add([11, 12], [1, 2], np.stack([enrolled, stranger]))
    threshold = cpu_engine.config.match_threshold

    match = conflicting_person(gallery, again, person_id=3, threshold=threshold)

    assert match is not None and match.person_id == 1 and match.sample_id == 11
    assert conflicting_person(gallery, again, person_id=1, threshold=threshold) is None  # the same person
    verdict = cpu_engine.analyse_enrollment(read_rgb(photos[1]), gallery=gallery, person_id=3).verdict
    assert not verdict.accepted and "from person 1's samples" in verdict.rejection_reason
    assert cpu_engine.analyse_enrollment(read_rgb(photos[1]), gallery=gallery, person_id=1).verdict.accepted


def eyes_and_nose(angle_deg: float = 0.0, nose_shift: float = 0.0) -> dict[str, tuple[float, float]]:
    """dlib's five points of an upright face 60 px between the eye centres, turned on screen by angle_deg;
    nose_shift moves the nose towards the image-right eye, in half eye distances."""
    points = {
        "left_eye_outer": (-40.0, 0.0),
        "left_eye_inner": (-20.0, 0.0),
        "right_eye_inner": (20.0, 0.0),
        "right_eye_outer": (40.0, 0.0),
        "nose_base": (30.0 * nose_shift, 45.0),
    }
    cos, sin = math.cos(math.radians(angle_deg)), math.sin(math.radians(angle_deg))
    return {name: (200 + cos * x - sin * y, 150 + sin * x + cos * y) for name, (x, y) in points.items()}


@pytest.mark.parametrize("angle", [-60, -20, 0, 15, 45])
def test_roll_is_the_on_screen_angle_of_the_eye_line(angle):
    assert roll(eyes_and_nose(angle)) == pytest.approx(angle)
    assert yaw(eyes_and_nose(angle)) == pytest.approx(0, abs=1e-9)


@pytest.mark.parametrize("degrees", [-40, -10, 0, 25])
def test_yaw_reads_the_head_turn_back_from_the_nose_offset(degrees):
    shift = NOSE_DEPTH_RATIO * math.tan(math.radians(degrees))

    assert yaw(eyes_and_nose(30, shift)) == pytest.approx(degrees)


def test_pose_needs_eye_and_nose_keypoints():
    with pytest.raises(ValueError, match="nose_base"):
        yaw({"left_eye_center": (0, 0), "right_eye_center": (10, 0)})
    with pytest.raises(ValueError, match="right eye"):
        roll({"left_eye_center": (0, 0), "nose_base": (5, 5)})
