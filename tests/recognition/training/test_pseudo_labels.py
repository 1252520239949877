"""Landmark-guided pseudo-labels against FASSEG's human labels, on real photos.

Figures measured on the first 10 frontal FASSEG test photos (whole-image F1, pseudo lips and inner mouth
merged into MOUTH; precision = share of the pseudo-label's pixels the humans gave the same class):
eyes F1 .53 mean / .41 worst, precision 1.00; nose F1 .92 / .87, precision .92; mouth F1 .65 / .48,
precision .98; skin precision .996; brows F1 .67 (left) / .65 (right) mean, .54 worst, where FASSEG kept
a brow blob of 200+ pixels (8 and 10 photos); 97 % of the judged pixels agree with the human class; 99 % of
the hair is ignored. Recall is low by design: the ring that human labels draw wider than the landmark
contours is left unjudged. The bounds below sit under those figures.
"""

import shutil

import numpy as np
import pytest
from PIL import Image

from recognition.training.datasets import (
    BACKGROUND,
    HAIR,
    IGNORE,
    INNER_MOUTH,
    LEFT_BROW,
    LEFT_EYE,
    LOWER_LIP,
    MOUTH,
    MOUTH_LUT,
    NOSE,
    NOT_A_PART,
    RIGHT_BROW,
    RIGHT_EYE,
    SKIN,
    UPPER_LIP,
    FassegDataset,
)
from recognition.training.pseudo_labels import FACE_PARTS
from tests.facedata import FACEDATA

PARSING = FACEDATA / "parsing"
IDENTITIES = FACEDATA / "identities"
SAMPLES = 10
MIN_BROW_PIXELS = 200  # FASSEG's brows are recovered heuristically; a few pixels are a failed recovery


@pytest.fixture(scope="module")
def labeler():
    pytest.importorskip("dlib", reason="dlib-bin runs the 68-point shape predictor for pseudo-labels")
    from recognition.training.pseudo_labels import LandmarkPseudoLabeler

    return LandmarkPseudoLabeler()


@pytest.fixture(scope="module")
def labelled(labeler) -> list[tuple[np.ndarray, np.ndarray]]:
    """(human label, pseudo-label) for the first frontal FASSEG test photos, pseudo lips merged to MOUTH."""
    if not PARSING.is_dir():
        pytest.skip(f"real face data is absent: no {PARSING}")
    from recognition.models.detector import FaceDetector

    detector = FaceDetector()
    dataset = FassegDataset(PARSING, "test")
    frontal = [index for index, (image, _) in enumerate(dataset.pairs) if "frontal02" in image.name]
    pairs = []
    for index in frontal[:SAMPLES]:
        image, human = dataset[index]
        face = max(detector.detect(image), key=lambda face: face.width * face.height)
        pseudo = labeler(image, face.box)
        drawn = {SKIN, LEFT_BROW, RIGHT_BROW, LEFT_EYE, RIGHT_EYE, NOSE, UPPER_LIP, INNER_MOUTH, LOWER_LIP}
        assert set(np.unique(pseudo)) <= drawn | {NOT_A_PART, IGNORE}
        pairs.append((human, MOUTH_LUT[pseudo]))
    return pairs


def scores(labelled, value: int, min_pixels: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Per-image F1 and precision of `value`, over the images whose human label has it."""
    f1, precision = [], []
    for human, pseudo in labelled:
        truth, guess = human == value, pseudo == value
        if truth.sum() >= min_pixels:
            hits = (truth & guess).sum()
            f1.append(2 * hits / (truth.sum() + guess.sum()))
            precision.append(hits / max(guess.sum(), 1))
    return np.array(f1), np.array(precision)


@pytest.mark.parametrize(
    "value, mean_f1, worst_f1, min_precision",
    [
        (LEFT_EYE, 0.45, 0.35, 0.9),
        (RIGHT_EYE, 0.45, 0.35, 0.9),
        (NOSE, 0.85, 0.8, 0.7),
        (MOUTH, 0.55, 0.4, 0.9),
    ],
)
def test_parts_overlap_human_labels(labelled, value, mean_f1, worst_f1, min_precision):
    f1, precision = scores(labelled, value)
    assert len(f1) == SAMPLES
    assert f1.mean() > mean_f1 and f1.min() > worst_f1, f1.round(2)
    assert precision.min() > min_precision, precision.round(2)


@pytest.mark.parametrize("value", [LEFT_BROW, RIGHT_BROW])
def test_brows_overlap_human_labels(labelled, value):
    f1, _ = scores(labelled, value, MIN_BROW_PIXELS)
    assert len(f1) >= SAMPLES // 2
    assert f1.mean() > 0.45, f1.round(2)


def test_judged_pixels_agree_with_humans_and_hair_is_only_called_no_face_part(labelled):
    for human, pseudo in labelled:
        judged = (pseudo != IGNORE) & (pseudo != NOT_A_PART) & (human != IGNORE)
        assert (pseudo[judged] == human[judged]).mean() > 0.93
        assert np.isin(pseudo[human == HAIR], [SKIN, *FACE_PARTS]).mean() < 0.03  # a fringe over the skin
        assert (pseudo[human == SKIN] == SKIN).mean() > 0.25  # the face's skin is labelled, not all ignored
        no_part = (pseudo == NOT_A_PART) & (human != IGNORE)
        assert no_part.mean() > 0.3  # most of the photo around the face
        assert np.isin(human[no_part], [BACKGROUND, SKIN, HAIR]).mean() > 0.995


def test_left_classes_lie_on_the_image_left(labelled):
    def mean_x(label, value):
        return np.nonzero(label == value)[1].mean()

    for _, pseudo in labelled:
        nose = mean_x(pseudo, NOSE)
        assert mean_x(pseudo, LEFT_EYE) < nose < mean_x(pseudo, RIGHT_EYE)
        assert mean_x(pseudo, LEFT_BROW) < nose < mean_x(pseudo, RIGHT_BROW)


def test_make_pseudo_labels_is_resumable(tmp_path, labeler, caplog):
    from recognition.training.pseudo_labels import main, make_pseudo_labels, read_boxes

    if not IDENTITIES.is_dir():
        pytest.skip(f"real face data is absent: no {IDENTITIES}")
    photos = tmp_path / "photos"
    (photos / "person").mkdir(parents=True)
    for photo in sorted(IDENTITIES.glob("*/*.jpg"))[:3]:
        shutil.copy(photo, photos / "person" / f"{photo.parent.name}_{photo.name}")
    (photos / "person" / "truncated.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    out = tmp_path / "labels"
    assert make_pseudo_labels(tmp_path, ["photos"], out) == 3
    written = sorted(out.rglob("*.png"))
    assert [path.parent for path in written] == [out / "photos" / "person"] * 3
    boxes = read_boxes(out)
    assert sorted(boxes) == [path.relative_to(out).as_posix() for path in written]
    for path in written:
        x1, y1, x2, y2 = boxes[path.relative_to(out).as_posix()]
        assert 0 <= x1 < x2 <= 250 and 0 <= y1 < y2 <= 250 and x2 - x1 > 50  # LFW's 250 px photos
    # no partial files left
    assert sorted(path for path in out.rglob("*") if path.is_file()) == sorted([*written, out / "boxes.json"])
    assert "truncated.jpg" in caplog.text
    for path in written:
        label = np.asarray(Image.open(path))
        assert label.ndim == 2 and (label == LEFT_EYE).any() and (label == IGNORE).any()
    stamps = [path.stat().st_mtime_ns for path in written]
    # the command line, run again over the same folder, finds nothing left to do
    assert main(["--data", str(tmp_path), "--out", str(out), "photos"]) == 0
    assert [path.stat().st_mtime_ns for path in sorted(out.rglob("*.png"))] == stamps
    with pytest.raises(FileNotFoundError, match="no folder"):
        make_pseudo_labels(tmp_path, ["absent"], out)
