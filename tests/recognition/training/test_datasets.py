"""The 11-class scheme, its flip table, the FASSEG / LaPa / CelebAMask-HQ adapters and the face crop.

LaPa and CelebAMask-HQ are not in the shared data: their layouts are rebuilt in tmp_path from a real FASSEG
photo and label, which tests the layout parsing and the class mapping, not the faces.
"""

import shutil

import cv2
import numpy as np
import pytest
from PIL import Image

from recognition.training.datasets import (
    CLASS_NAMES,
    FLIP_LUT,
    HAIR,
    IGNORE,
    INNER_MOUTH,
    LEFT_BROW,
    LEFT_EYE,
    LOWER_LIP,
    MOUTH,
    NOSE,
    RIGHT_BROW,
    RIGHT_EYE,
    SKIN,
    UPPER_LIP,
    CelebAMaskHQDataset,
    FassegDataset,
    LapaDataset,
    face_crop,
    flip_horizontal,
)
from tests.facedata import FACEDATA

PARSING = FACEDATA / "parsing"
FRONTAL = "fasseg_frontal02_test_001"


def mean_x(label: np.ndarray, value: int) -> float:
    return float(np.nonzero(label == value)[1].mean())


@pytest.fixture(scope="module")
def fasseg_test() -> FassegDataset:
    if not PARSING.is_dir():
        pytest.skip(f"real face data is absent: no {PARSING}")
    return FassegDataset(PARSING, "test")


@pytest.fixture(scope="module")
def frontal(fasseg_test) -> tuple[np.ndarray, np.ndarray]:
    names = [image.stem for image, _ in fasseg_test.pairs]
    return fasseg_test[names.index(FRONTAL)]


def test_scheme_is_lapa_order_with_mouth_superclass():
    assert CLASS_NAMES[LEFT_BROW] == "left_brow" and CLASS_NAMES[RIGHT_EYE] == "right_eye"
    values = (SKIN, NOSE, UPPER_LIP, INNER_MOUTH, LOWER_LIP, HAIR, MOUTH, IGNORE)
    assert values == (1, 6, 7, 8, 9, 10, 11, 255)
    assert len(CLASS_NAMES) == 11


def test_flip_table_swaps_sides_only_and_undoes_itself():
    assert FLIP_LUT[[LEFT_BROW, RIGHT_BROW, LEFT_EYE, RIGHT_EYE]].tolist() == [3, 2, 5, 4]
    others = [value for value in range(256) if value not in (2, 3, 4, 5)]
    assert FLIP_LUT[others].tolist() == others
    assert np.array_equal(FLIP_LUT[FLIP_LUT], np.arange(256))


def test_fasseg_splits_and_values(fasseg_test):
    assert len(fasseg_test) == 71
    assert len(FassegDataset(PARSING, "train")) == 176
    image, label = fasseg_test[0]
    assert image.dtype == np.uint8 and image.shape == (*label.shape, 3)
    assert set(np.unique(label)) <= {0, 1, 2, 3, 4, 5, 6, 10, 11}


def test_fasseg_left_is_image_left_and_flip_keeps_it(frontal):
    image, label = frontal
    assert mean_x(label, LEFT_EYE) < mean_x(label, NOSE) < mean_x(label, RIGHT_EYE)
    flipped_image, flipped = flip_horizontal(image, label)
    assert np.array_equal(flipped_image[:, 0], image[:, -1])
    assert mean_x(flipped, LEFT_EYE) < mean_x(flipped, NOSE) < mean_x(flipped, RIGHT_EYE)
    assert (flipped == LEFT_EYE).sum() == (label == RIGHT_EYE).sum()


def test_missing_split_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no image folder"):
        FassegDataset(tmp_path, "test")


def subject_left(label: np.ndarray) -> np.ndarray:
    """The label as a dataset that names the subject's left would store it."""
    return FLIP_LUT[label]


def lapa_tree(root, frontal, label_values: np.ndarray):
    image, _ = frontal
    for folder in ("images", "labels", "landmarks"):
        (root / "train" / folder).mkdir(parents=True)
    shutil.copy(PARSING / "test" / "images" / f"{FRONTAL}.jpg", root / "train" / "images" / "face_1.jpg")
    Image.fromarray(label_values).save(root / "train" / "labels" / "face_1.png")
    (root / "train" / "landmarks" / "face_1.txt").write_text("106\n" + "0 0\n" * 106)
    return image


def test_lapa_layout_and_sides(tmp_path, frontal):
    _, label = frontal
    lapa_label = np.where(label == MOUTH, UPPER_LIP, label).astype(np.uint8)
    image = lapa_tree(tmp_path, frontal, subject_left(lapa_label))
    dataset = LapaDataset(tmp_path, "train")
    assert len(dataset) == 1
    loaded_image, loaded = dataset[0]
    assert np.array_equal(loaded_image, image)
    assert np.array_equal(loaded, lapa_label)  # brought back to image-left by position
    with pytest.raises(ValueError, match="splits"):
        LapaDataset(tmp_path, "training")


def test_lapa_rejects_values_outside_its_scheme(tmp_path, frontal):
    _, label = frontal
    lapa_tree(tmp_path, frontal, label)  # still holds FASSEG's MOUTH = 11
    with pytest.raises(ValueError, match="0-10"):
        LapaDataset(tmp_path, "train")[0]


def test_lapa_image_without_label(tmp_path, frontal):
    _, label = frontal
    lapa_tree(tmp_path, frontal, label)
    (tmp_path / "train" / "labels" / "face_1.png").unlink()
    with pytest.raises(FileNotFoundError, match="has no label"):
        LapaDataset(tmp_path, "train")


def test_celebamask_hq_layout_and_paint_order(tmp_path, frontal):
    image, label = frontal
    height, width = label.shape
    (tmp_path / "CelebA-HQ-img").mkdir()
    Image.fromarray(cv2.resize(image, (2 * width, 2 * height))).save(tmp_path / "CelebA-HQ-img" / "2001.jpg")
    masks = tmp_path / "CelebAMask-HQ-mask-anno" / "1"  # folder = id // 2000
    masks.mkdir(parents=True)
    mouth_rows = np.nonzero((label == MOUTH).any(1))[0]
    upper = (label == MOUTH) & (np.arange(height)[:, None] < mouth_rows.mean())
    glasses = np.zeros_like(label, bool)
    eye_rows, eye_columns = np.nonzero(np.isin(label, (LEFT_EYE, RIGHT_EYE)))
    glasses[eye_rows.min() - 5 : eye_rows.max() + 5, eye_columns.min() - 5 : eye_columns.max() + 5] = True
    parts = {
        "skin": label == SKIN,
        "hair": label == HAIR,
        "nose": label == NOSE,
        "l_eye": label == RIGHT_EYE,  # the subject's left, as CelebAMask-HQ names it
        "r_eye": label == LEFT_EYE,
        "u_lip": upper,
        "l_lip": (label == MOUTH) & ~upper,
        "eye_g": glasses,
        "cloth": label == 0,
    }
    for part, mask in parts.items():
        pixels = (mask * 255).astype(np.uint8)
        saved = np.repeat(pixels[..., None], 3, axis=2) if part == "hair" else pixels  # some come as RGB
        Image.fromarray(saved).save(masks / f"02001_{part}.png")
    dataset = CelebAMaskHQDataset(tmp_path)
    assert len(dataset) == 1
    loaded_image, loaded = dataset[0]
    assert loaded_image.shape == (height, width, 3)
    assert mean_x(loaded, LEFT_EYE) < mean_x(loaded, RIGHT_EYE)
    assert np.array_equal(loaded == LEFT_EYE, label == LEFT_EYE)  # eyes painted over the glasses
    painted_later = np.isin(label, (LEFT_EYE, RIGHT_EYE, NOSE))
    assert np.all(loaded[glasses & ~painted_later] == IGNORE)  # frames over skin and hair: nobody's
    assert np.array_equal(loaded == UPPER_LIP, upper) and (loaded == LOWER_LIP).sum() > 0
    assert np.all(loaded[(label == HAIR) & ~glasses] == HAIR)


def test_celebamask_hq_image_without_masks(tmp_path, frontal):
    (tmp_path / "CelebA-HQ-img").mkdir()
    (tmp_path / "CelebAMask-HQ-mask-anno").mkdir()
    shutil.copy(PARSING / "test" / "images" / f"{FRONTAL}.jpg", tmp_path / "CelebA-HQ-img" / "7.jpg")
    with pytest.raises(FileNotFoundError, match="no part masks"):
        CelebAMaskHQDataset(tmp_path)


def test_face_crop_follows_the_box(frontal):
    image, label = frontal
    rows, columns = np.nonzero(label == SKIN)
    box = (float(columns.min()), float(rows.min()), float(columns.max() + 1), float(rows.max() + 1))
    side = max(box[2] - box[0], box[3] - box[1]) * 1.5
    crop, label_crop = face_crop(image, label, box, size=128, margin=0.25)
    assert crop.shape == (128, 128, 3) and label_crop.shape == (128, 128)
    assert set(np.unique(label_crop)) <= set(np.unique(label)) | {IGNORE}
    scale = 128 / side
    expected_nose_x = (mean_x(label, NOSE) + 0.5 - ((box[0] + box[2]) / 2 - side / 2)) * scale - 0.5
    assert abs(mean_x(label_crop, NOSE) - expected_nose_x) < 1.0
    assert np.all(label_crop[:, 0] == IGNORE) and np.all(crop[:, 0] == 0)  # beyond the photo's left edge
    assert face_crop(image, None, box, size=64, margin=0.1)[1] is None
    with pytest.raises(ValueError, match="empty crop"):
        face_crop(image, label, (10, 10, 10, 10), size=64, margin=0.1)
