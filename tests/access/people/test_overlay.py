"""What the pipeline saw on an enrollment photo, stored with the sample at enrollment (encrypted) and drawn
from the stored values alone: real photos, the real engine, with and without the face parser."""

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from access.core import crypto
from access.core.images import decode_image
from access.people import services
from access.people.models import Consent, FaceSample, Person
from access.people.overlay import (
    BOX_COLOUR,
    MASK_OPACITY,
    PARSING_COLOURS,
    SURE_COLOUR,
    UNJUDGED_COLOUR,
    OverlayError,
    overlay_bytes,
    read_overlay,
    render_overlay,
    shown_region,
)
from recognition import tasks
from recognition.config import EngineConfig
from recognition.images import read_rgb
from recognition.keypoints import ParsingKeypoints
from recognition.models.landmarks import LandmarkPredictor
from recognition.pipeline import Engine, engine
from recognition.types import CLASSES
from tests.access.conftest import FACEDATA, IDENTITIES, stored_files

SCENES = FACEDATA / "scenes"
pytestmark = pytest.mark.usefixtures("worker_gallery")  # each test starts as a fresh worker does
PHOTO = IDENTITIES / "Kit_Harington" / "3.jpg"  # accepted with and without the face parser
GROUP = SCENES / "group_3ddfa_trump_hillary.jpg"



@pytest.fixture(scope="module")
def parsing_engine() -> Engine:
    return Engine(EngineConfig(device="cpu"), keypoints=ParsingKeypoints())


@pytest.fixture
def kit(db) -> Person:
    person = Person.objects.create(name="Kit Harington", external_id="E-45")
    Consent.objects.create(person=person, method=Consent.Method.SIGNED_FORM)
    return person


def test_an_overlay_keeps_every_value_it_was_made_from(parsing_engine):
    [face] = parsing_engine.analyse(read_rgb(PHOTO))

    [kept] = read_overlay(overlay_bytes([face]))

    assert kept.box == face.box
    assert kept.keypoints == face.keypoints
    assert kept.confidence == face.visibility.confidence
    assert kept.occlusions == face.visibility.occlusions == ()
    np.testing.assert_array_equal(kept.chip, face.chip)
    np.testing.assert_array_equal(kept.parsing.labels, face.parsing.labels)
    np.testing.assert_array_equal(kept.parsing.crop_to_image, face.parsing.crop_to_image)


def test_the_drawing_shows_the_parsing_box_and_keypoints(parsing_engine):
    pixels = read_rgb(PHOTO)
    [face] = parsing_engine.analyse(pixels)
    [kept] = read_overlay(overlay_bytes([face]))

    drawn = render_overlay(pixels, [kept])
    plain = render_overlay(pixels, [replace(kept, parsing=None)])

    labels = kept.parsing.to_image(pixels.shape)
    region, scale = _region_and_scale(pixels, [kept], drawn)
    skin = _inside(labels, CLASSES.index("skin"), region, scale, drawn.shape)
    painted = drawn[skin].astype(float).mean(axis=0)
    unpainted = plain[skin].astype(float).mean(axis=0)
    expected = unpainted * (1 - MASK_OPACITY) + np.array(PARSING_COLOURS["skin"]) * MASK_OPACITY
    np.testing.assert_allclose(painted, expected, atol=4)
    background = _inside(labels, CLASSES.index("background"), region, scale, drawn.shape)
    np.testing.assert_allclose(drawn[background].mean(axis=0), plain[background].mean(axis=0), atol=1)

    x1, y1, x2, y2 = ((np.array(kept.box) - np.tile(region, 2)) * scale).round().astype(int)
    assert tuple(drawn[y1, (x1 + x2) // 2]) == BOX_COLOUR
    drawn_at = {name: (np.asarray(xy) - region) * scale for name, xy in kept.keypoints.items()}
    marker = 2 * (max(2, round(drawn.shape[1] / 240)) + 2)  # a later marker's outline covers an earlier one
    apart = [
        name for name, at in drawn_at.items()
        if all(np.linalg.norm(at - other) > marker for key, other in drawn_at.items() if key != name)
    ]  # fmt: skip
    sure = [name for name in apart if kept.confidence.get(name, 0) >= 0.99]
    assert sure, "a clear frontal photo has sure keypoints"
    for name in sure:
        x, y = drawn_at[name]
        assert tuple(drawn[round(y), round(x)]) == SURE_COLOUR, name


def _region_and_scale(pixels, faces, drawn) -> tuple[np.ndarray, float]:
    left, top, right, _ = shown_region(pixels.shape, faces)
    return np.array([left, top]), drawn.shape[1] / (right - left)


def _inside(labels, value, region, scale, shape) -> np.ndarray:
    """Pixels of the drawing well inside the segment of class `value` (eroded, so edges and lines are left
    out), as a boolean mask of the drawing's shape."""
    left, top = region
    mask = (labels == value).astype(np.uint8)[top:, left:]
    mask = cv2.resize(mask, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)[: shape[0], : shape[1]]
    mask = cv2.erode(mask, np.ones((15, 15), np.uint8))
    assert mask.sum() > 500, f"class {value} has too few pixels to look at"
    return mask.astype(bool)


def test_without_the_parser_the_drawing_has_the_box_and_unjudged_keypoints():
    pixels = read_rgb(PHOTO)
    [face] = Engine(EngineConfig(device="cpu"), keypoints=LandmarkPredictor()).analyse(pixels)
    [kept] = read_overlay(overlay_bytes([face]))

    drawn = render_overlay(pixels, [kept])

    assert kept.parsing is None and kept.confidence == {}
    region, scale = _region_and_scale(pixels, [kept], drawn)
    for x, y in kept.keypoints.values():
        assert tuple(drawn[round((y - region[1]) * scale), round((x - region[0]) * scale)]) == UNJUDGED_COLOUR


def test_a_file_that_is_not_an_overlay_is_refused():
    with pytest.raises(OverlayError, match="cannot be read"):
        read_overlay(PHOTO.read_bytes())


def enroll(person: Person, photo: Path) -> FaceSample:
    sample = services.add_sample(person, decode_image(photo.read_bytes()))
    tasks.enroll_sample(sample.pk)
    return FaceSample.objects.get(pk=sample.pk)


def test_enrollment_stores_the_overlay_encrypted(kit, media_root):
    sample = enroll(kit, PHOTO)

    assert sample.state == FaceSample.State.ENROLLED and sample.overlay
    on_disk = (media_root / sample.overlay.name).read_bytes()
    assert not on_disk.startswith(b"PK"), "the overlay is stored as plain NumPy archive"
    [kept] = read_overlay(crypto.decrypt(on_disk))
    [face] = engine().analyse(read_rgb(PHOTO))
    assert kept.box == face.box
    np.testing.assert_array_equal(kept.chip, face.chip)


def test_a_rejected_photo_keeps_what_was_seen_and_one_without_a_face_keeps_nothing(kit):
    group = enroll(kit, GROUP)
    cat = enroll(kit, SCENES / "noface_skimage_chelsea.png")

    assert group.state == FaceSample.State.REJECTED
    assert len(read_overlay(group.overlay.read())) == 2
    assert (cat.state, cat.rejection_reason) == (FaceSample.State.REJECTED, "no face found")
    assert not cat.overlay


def test_an_enrollment_that_fails_leaves_no_overlay_file(kit, media_root):
    sample = services.add_sample(kit, decode_image(PHOTO.read_bytes()))

    def analyse(pixels, person_id):
        return tasks.analyse_sample(engine(), tasks.enroll_sample.synced_gallery(), pixels, person_id)

    def recheck(code, person_id):
        raise RuntimeError("the database went away")

    with pytest.raises(RuntimeError):
        services.enroll_sample(sample.pk, analyse, recheck)

    sample.refresh_from_db()
    assert (sample.state, sample.overlay.name) == (FaceSample.State.PENDING, "")
    assert stored_files(media_root) == [media_root / sample.image.name]


def test_erasing_a_sample_erases_its_overlay(kit, media_root, django_capture_on_commit_callbacks):
    sample = enroll(kit, PHOTO)
    assert len(stored_files(media_root)) == 2

    with django_capture_on_commit_callbacks(execute=True):
        sample.delete()

    assert stored_files(media_root) == []
