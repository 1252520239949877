"""CPU smoke test of the face code network on real aligned chips (dlib's "johns" crops, 150x150)."""


import numpy as np
import pytest
from PIL import Image

from recognition.models.facecode import FaceCoder
from recognition.types import Face
from tests.facedata import FACEDATA

JOHNS = FACEDATA / "identities_aligned_crops"

pytestmark = pytest.mark.skipif(not JOHNS.is_dir(), reason=f"real face data is absent: no {JOHNS}")


def chip(person: str, number: int) -> np.ndarray:
    return np.asarray(Image.open(JOHNS / person / f"{number}.jpg").convert("RGB"))


@pytest.fixture(scope="module")
def coder():
    return FaceCoder()


def test_batch_of_one_and_of_four(coder):
    chips = np.stack(
        [chip("John_Salley", 1), chip("John_Salley", 2), chip("John_Savage", 1), chip("John_Simm", 1)]
    )
    single = coder.get_batch(chips[:1])
    batch = coder.get_batch(chips)
    assert single.shape == (1, 128) and batch.shape == (4, 128)
    assert batch.dtype == np.float32 and np.isfinite(batch).all()
    np.testing.assert_allclose(batch[0], single[0], atol=1e-5)
    same_person = np.linalg.norm(batch[0] - batch[1])
    assert same_person < 0.6 < min(np.linalg.norm(batch[0] - batch[2]), np.linalg.norm(batch[0] - batch[3]))


def test_get_fills_the_face_code(coder):
    face = Face(box=(0, 0, 150, 150), score=1.0, chip=chip("John_Schneider", 1))
    code = coder.get(face.chip, face)
    assert face.code is code and code.shape == (128,)


@pytest.mark.parametrize(
    "chips",
    [
        np.zeros((1, 150, 150, 3), np.float32),
        np.zeros((1, 112, 112, 3), np.uint8),
        np.zeros((150, 150, 3), np.uint8),
    ],
)
def test_wrong_chips_are_refused(coder, chips):
    with pytest.raises(ValueError, match="uint8 array of shape"):
        coder.get_batch(chips)


def test_face_without_chip_is_refused(coder):
    with pytest.raises(ValueError, match="no chip"):
        coder.get(np.zeros((10, 10, 3), np.uint8), Face(box=(0, 0, 1, 1), score=1.0))
