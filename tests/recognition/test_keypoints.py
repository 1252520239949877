"""Keypoints and occlusion verdicts from face segments: on FASSEG's human label masks, and through the engine.

The human masks test the geometry alone (no trained weights involved): their keypoints are compared with
dlib's 5 points on the same photos, and edited masks (an eye's labels erased, the nose and mouth erased)
must give the matching occlusion verdicts. Tests of the committed parser on real photos are in
`test_keypoints_parser.py`.
"""

import cv2
import numpy as np
import pytest

from recognition.align import DLIB_5_POINT_NAMES
from recognition.config import EngineConfig
from recognition.keypoints import (
    ALIGNMENT_TEMPLATE,
    BOX_TEMPLATE,
    PART_CLASSES,
    ParsingKeypoints,
    face_outside_image,
    mask_keypoints,
    occlusions,
    points_from_box,
    segments_of,
)
from recognition.models.detector import FaceDetector
from recognition.models.landmarks import LandmarkPredictor
from recognition.pipeline import Engine
from recognition.training.fit_keypoint_template import fasseg_frontal, least_absolute_deviations
from recognition.types import Face, Parsing
from tests.facedata import FACEDATA

IDENTITY = np.eye(2, 3)
LEFT_EYE, RIGHT_EYE, NOSE, INNER_MOUTH = 4, 5, 6, 8

pytestmark = pytest.mark.skipif(
    not (FACEDATA / "parsing").is_dir(), reason=f"real face data is absent: no {FACEDATA / 'parsing'}"
)


@pytest.fixture(scope="module")
def frontal() -> list[tuple[np.ndarray, np.ndarray, Face]]:
    """FASSEG's 45 frontal photos with their human labels and the detector's largest face."""
    detector = FaceDetector()
    return [
        (image, labels, max(detector.detect(image), key=lambda face: face.width))
        for image, labels in fasseg_frontal()
    ]


def inter_ocular(five: dict) -> float:
    centres = [
        np.mean([five[f"{side}_eye_outer"], five[f"{side}_eye_inner"]], axis=0) for side in ("left", "right")
    ]
    return float(np.linalg.norm(centres[0] - centres[1]))


def test_human_masks_give_points_near_the_eye_corners_and_nose_base_dlib_finds(frontal):
    landmarks = LandmarkPredictor()
    errors = {name: [] for name in DLIB_5_POINT_NAMES}
    for image, labels, face in frontal:
        five = landmarks.get(image, face)
        found = mask_keypoints(labels, IDENTITY, face.box)
        for name in DLIB_5_POINT_NAMES:
            errors[name].append(
                np.linalg.norm(np.subtract(found.points[name], five[name])) / inter_ocular(five)
            )

    mean = {name: float(np.mean(values)) for name, values in errors.items()}
    assert len(errors["nose_base"]) == 45
    # The points' offsets are fitted to the committed parser's masks, whose regions differ from FASSEG's
    # human ones (their nose and eye outlines are drawn to other conventions), so on human labels the
    # outer eye corners and the nose base sit a little off: measured 3.1 to 8.6% of the inter-ocular
    # distance, no face past 12.9%. The parser's own accuracy is tested in test_keypoints_parser.py.
    assert max(mean.values()) < 0.1, mean
    assert max(max(values) for values in errors.values()) < 0.15


def test_human_masks_give_points_in_a_face_s_order_and_every_part_visible(frontal):
    for _, labels, face in frontal:
        found = mask_keypoints(labels, IDENTITY, face.box)
        x = {name: xy[0] for name, xy in found.points.items()}
        y = {name: xy[1] for name, xy in found.points.items()}

        assert x["left_eye_outer"] < x["left_eye_center"] < x["left_eye_inner"] < x["nose_tip"]
        assert x["nose_tip"] < x["right_eye_inner"] < x["right_eye_center"] < x["right_eye_outer"]
        assert x["left_mouth_corner"] < x["mouth_center"] < x["right_mouth_corner"]
        assert max(y["left_eye_center"], y["right_eye_center"]) < y["nose_tip"] < y["nose_base"]
        assert y["nose_base"] < y["mouth_center"]
        assert occlusions(found, 0.0) == ()
        assert all(found.confidence[name] > 0.5 for name in ALIGNMENT_TEMPLATE)


def test_erased_parts_are_reported_as_occlusions_not_placed(frontal):
    _, labels, face = frontal[0]

    one_eye = mask_keypoints(np.where(labels == LEFT_EYE, 1, labels), IDENTITY, face.box)
    no_eyes = mask_keypoints(np.where(np.isin(labels, (LEFT_EYE, RIGHT_EYE)), 1, labels), IDENTITY, face.box)
    masked = mask_keypoints(np.where(np.isin(labels, (NOSE, INNER_MOUTH)), 1, labels), IDENTITY, face.box)

    assert occlusions(one_eye, 0.0) == ("the left eye is not visible",)
    assert "left_eye_center" not in one_eye.points and "right_eye_center" in one_eye.points
    assert occlusions(no_eyes, 0.0) == ("the eyes are covered (sunglasses?)",)
    assert occlusions(masked, 0.0) == ("the nose and mouth are covered (a face mask?)",)
    assert not {"nose_base", "left_mouth_corner"} & set(masked.points)


def test_a_speck_of_eye_is_not_an_eye(frontal):
    _, labels, face = frontal[0]
    speck = np.where(labels == RIGHT_EYE, 1, labels)
    rows, cols = np.nonzero(labels == RIGHT_EYE)
    speck[rows[0], cols[0]] = RIGHT_EYE  # one pixel left of the right eye

    found = mask_keypoints(speck, IDENTITY, face.box)

    assert not found.visible["right_eye"]
    assert found.confidence["right_eye_center"] == 0.0
    assert occlusions(found, 0.0) == ("the right eye is not visible",)


def test_segments_are_each_part_s_largest_blob_of_the_whole_map(frontal):
    """The segments (blobs labelled within the box holding every part, then within each part's own box)
    against each part's components over the whole label map, on human labels and with stray specks added."""
    _, labels, _ = frontal[0]
    specked = labels.copy()
    specked[:3, :3] = RIGHT_EYE  # a blob far from the eye, so the right eye's box spans the map
    specked[-2:, 40:42] = NOSE
    for label_map in (labels, specked):
        segments = segments_of(label_map)
        for part, classes in PART_CLASSES.items():
            mask = np.isin(label_map, classes).astype(np.uint8)
            count, blobs, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
            if count == 1:  # FASSEG labels no lips, only the mouth
                assert segments[part] is None, part
                continue
            largest = 1 + np.argmax(stats[1:, cv2.CC_STAT_AREA])
            rows, cols = np.nonzero(blobs == largest)

            assert np.array_equal(segments[part].pixels, np.stack([cols, rows], axis=1))
            assert segments[part].purity == len(rows) / mask.sum()
    assert [part for part, segment in segments_of(labels).items() if segment] == [
        "left_brow", "right_brow", "left_eye", "right_eye", "nose", "mouth"
    ]  # fmt: skip


def test_the_least_absolute_deviations_fit_ignores_misparsed_faces_as_a_median_would():
    turns = np.linspace(-0.3, 0.3, 41)
    spreads = np.cos(7 * turns)  # not a linear function of the turns
    offsets = 0.2 + 0.7 * turns - 0.4 * spreads
    offsets[[3, 17, 30]] += (0.9, -1.5, 2.0)  # three faces whose part was misparsed
    features = np.column_stack([turns, spreads])

    fitted = least_absolute_deviations(features, offsets)

    assert fitted == pytest.approx([0.2, 0.7, -0.4], abs=1e-3)
    least_squares = np.linalg.lstsq(np.column_stack([np.ones(41), features]), offsets, rcond=None)[0]
    assert np.abs(least_squares - [0.2, 0.7, -0.4]).max() > 0.1  # pulled off by them


def test_a_face_box_partly_outside_the_image_is_out_of_frame():
    assert face_outside_image((10, 10, 110, 110), (200, 200, 3)) == 0.0
    assert face_outside_image((-50, 10, 50, 110), (200, 200, 3)) == pytest.approx(0.5)
    found = mask_keypoints(np.zeros((64, 64), np.uint8), IDENTITY, (10.0, 10.0, 50.0, 50.0))
    assert occlusions(found, 0.5)[-1] == "the face is partly out of the frame (50% of it outside the image)"


def test_points_from_a_box_follow_the_box():
    near = points_from_box((0.0, 0.0, 100.0, 100.0))
    far = points_from_box((200.0, 50.0, 400.0, 250.0))  # shifted and twice as large

    for name in ALIGNMENT_TEMPLATE:
        assert np.allclose(np.multiply(near[name], 2) + (200, 50), far[name])
    (x1, y1), (x2, y2) = BOX_TEMPLATE.values()
    scale = (100 / (x2 - x1) + 100 / (y2 - y1)) / 2  # the template's box is about square: 1.23 by 1.29
    for name, (x, y) in ALIGNMENT_TEMPLATE.items():
        assert near[name] == pytest.approx(
            (50 + (x - (x1 + x2) / 2) * scale, 50 + (y - (y1 + y2) / 2) * scale)
        )


class HumanLabels:
    """Stands in for the face parser with FASSEG's human labels of the photo being analysed."""

    def __init__(self, labels: np.ndarray):
        self.labels = labels

    def prepare(self, device: str = "cpu") -> None:
        pass

    def get(self, img: np.ndarray, face: Face) -> Parsing:
        face.parsing = Parsing(self.labels, IDENTITY.copy())
        return face.parsing


def test_the_engine_aligns_with_parsing_keypoints_as_the_five_point_model_does(frontal):
    five_point = Engine(EngineConfig(device="cpu"), keypoints=LandmarkPredictor())
    distances = []
    for image, labels, _ in frontal[:12]:
        engine = Engine(EngineConfig(device="cpu"), keypoints=ParsingKeypoints(parser=HumanLabels(labels)))
        (face,) = engine.analyse(image)
        (reference,) = five_point.analyse(image)

        assert set(ALIGNMENT_TEMPLATE) <= set(face.keypoints)
        assert face.visibility is not None and not face.visibility.occluded
        assert face.parsing.labels is labels
        distances.append(np.linalg.norm(face.code - reference.code))

    # The same person's codes from two photos are typically 0.3 to 0.5 apart; two alignments of one photo
    # must stay far inside that.
    assert np.median(distances) < 0.15 and max(distances) < 0.25, np.round(distances, 3)


def test_a_face_whose_parts_cannot_align_it_is_aligned_by_its_box_and_flagged(frontal):
    image, labels, _ = frontal[0]
    erased = np.where(np.isin(labels, (LEFT_EYE, RIGHT_EYE, NOSE)), 1, labels)  # only the mouth is left
    engine = Engine(EngineConfig(device="cpu"), keypoints=ParsingKeypoints(parser=HumanLabels(erased)))

    (face,) = engine.analyse(image)

    assert face.keypoints == points_from_box(face.box)
    assert all(face.visibility.confidence[name] == 0.0 for name in face.keypoints)
    assert face.visibility.occlusions == ("the eyes are covered (sunglasses?)", "the nose is covered")
    assert face.code.shape == (128,) and np.isfinite(face.code).all()
