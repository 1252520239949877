"""The committed parser on real FASSEG test photos, scored against their human labels.

The faces are found by the pipeline's detector and parsed by `FaceParser` with the committed weights, as in
production; the labels are mapped back onto the photo and compared per class, as `bench/parser_eval.py`
does on the whole split (lips and inner mouth merged into FASSEG's mouth, brows and eyes on the right side).
The floors sit below what the committed weights reach on these photos (the model card gives the whole split's
figures), so they catch weights that are missing, stale, mismatched with the code or mirrored.
"""

import numpy as np
import pytest

from recognition.images import read_rgb
from recognition.models.parser import FaceParser
from recognition.models.weights import COMMITTED
from recognition.training.datasets import (
    HAIR,
    IGNORE,
    LEFT_BROW,
    LEFT_EYE,
    MOUTH,
    MOUTH_LUT,
    NOSE,
    RIGHT_BROW,
    RIGHT_EYE,
    SKIN,
    read_label,
)
from tests.facedata import FACEDATA

TEST_SPLIT = FACEDATA / "parsing" / "test"
# frontal photos and turned heads (yaw 0, -30, +30, -60) of the test split; none was trained on
NAMES = (
    "fasseg_frontal02_test_001",
    "fasseg_frontal02_test_011",
    "fasseg_frontal02_test_029",
    "fasseg_frontal02_test_045",
    "fasseg_multipose01_personne08146p0p0",
    "fasseg_multipose01_personne09144p0m30",
    "fasseg_multipose01_personne10148p0p30",
    "fasseg_multipose01_personne11142p0m60",
)
FLOORS = {  # the committed weights reach skin .955, hair .949, nose .902, mouth .842, eyes .849, brows .701
    "skin": ((SKIN,), 0.90),
    "hair": ((HAIR,), 0.89),
    "nose": ((NOSE,), 0.84),
    "mouth": ((MOUTH,), 0.78),
    "eyes": ((LEFT_EYE, RIGHT_EYE), 0.79),
    "brows": ((LEFT_BROW, RIGHT_BROW), 0.64),
}


@pytest.fixture(scope="module")
def pooled_counts() -> dict[str, np.ndarray]:
    """(true positive, predicted, labelled) pixels per scored class, summed over the photos."""
    if not COMMITTED["parser"].is_file():
        pytest.fail(f"the committed parser weights {COMMITTED['parser']} are missing")
    missing = [name for name in NAMES if not (TEST_SPLIT / "images" / f"{name}.jpg").is_file()]
    if missing:
        pytest.skip(f"FASSEG test photos not found under {TEST_SPLIT} (set FACEGATE_FACEDATA): {missing[:2]}")
    from recognition.models.detector import FaceDetector

    detector, parser = FaceDetector(), FaceParser()
    counts = {name: np.zeros(3, dtype=np.int64) for name in FLOORS}
    for name in NAMES:
        photo = read_rgb(TEST_SPLIT / "images" / f"{name}.jpg")
        truth = read_label(TEST_SPLIT / "masks" / f"{name}.png")
        faces = detector.detect(photo)
        assert faces, f"the detector found no face in {name}"
        face = max(faces, key=lambda found: found.width * found.height)
        predicted = MOUTH_LUT[parser.get(photo, face).to_image(photo.shape)]
        labelled = truth != IGNORE
        for class_name, (classes, _) in FLOORS.items():
            for label in classes:
                is_predicted, is_true = (predicted == label) & labelled, truth == label
                counts[class_name] += (
                    np.count_nonzero(is_predicted & is_true),
                    is_predicted.sum(),
                    is_true.sum(),
                )
    return counts


@pytest.mark.parametrize("class_name", list(FLOORS))
def test_committed_parser_agrees_with_human_labels(pooled_counts, class_name):
    true_positive, predicted, labelled = pooled_counts[class_name]
    assert labelled > 0, f"no {class_name} pixels labelled on the chosen photos"
    f1 = 2 * true_positive / (predicted + labelled)
    assert f1 >= FLOORS[class_name][1], f"{class_name} F1 {f1:.3f} is under {FLOORS[class_name][1]}"


def test_image_left_parts_are_labelled_left():
    """On a frontal photo the left brow and eye classes (2, 4) lie left of the right ones (3, 5): the
    image-left convention of the label maps and of the keypoints derived from them."""
    path = TEST_SPLIT / "images" / f"{NAMES[0]}.jpg"
    if not path.is_file():
        pytest.skip(f"FASSEG test photo not found at {path} (set FACEGATE_FACEDATA)")
    from recognition.models.detector import FaceDetector

    photo = read_rgb(path)
    face = max(FaceDetector().detect(photo), key=lambda found: found.width * found.height)
    labels = FaceParser().get(photo, face).to_image(photo.shape)
    columns = np.arange(photo.shape[1])
    for left, right in ((LEFT_EYE, RIGHT_EYE), (LEFT_BROW, RIGHT_BROW)):
        left_x = columns[(labels == left).any(axis=0)].mean()
        right_x = columns[(labels == right).any(axis=0)].mean()
        assert left_x < right_x, f"class {left} lies right of class {right}"
