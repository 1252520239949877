"""Parity of the torch face code with dlib-bin's: on the same chip, the codes are within L2 0.01.

Chips come from dlib's own pipeline on real photos (HOG detector, 5-point shape predictor, get_face_chip with
size 150 and padding 0.25), so only the network differs between the two codes.
"""

import numpy as np
import pytest
from PIL import Image

from recognition.models.facecode import FaceCoder
from recognition.models.weights import dat_path
from tests.facedata import IDENTITIES, spread_photos

dlib = pytest.importorskip("dlib", reason="dlib-bin is the reference for the parity test")

LFW_SAMPLE = 30
MAX_L2 = 0.01

pytestmark = pytest.mark.skipif(not IDENTITIES.is_dir(), reason=f"real face data is absent: no {IDENTITIES}")


@pytest.fixture(scope="module")
def dlib_chips_and_codes() -> tuple[list[str], np.ndarray, np.ndarray]:
    detector = dlib.get_frontal_face_detector()
    landmarks = dlib.shape_predictor(str(dat_path("shape_predictor_5_face_landmarks.dat")))
    encoder = dlib.face_recognition_model_v1(str(dat_path("dlib_face_recognition_resnet_model_v1.dat")))
    names, chips, codes = [], [], []
    for photo in spread_photos(LFW_SAMPLE):
        image = np.asarray(Image.open(photo).convert("RGB"))
        for index, box in enumerate(detector(image, 1)):
            chip = dlib.get_face_chip(image, landmarks(image, box), size=150, padding=0.25)
            names.append(f"{photo.parent.name}/{photo.name}#{index}")
            chips.append(chip)
            codes.append(np.asarray(encoder.compute_face_descriptor(chip), dtype=np.float32))
    return names, np.stack(chips), np.stack(codes)


def test_codes_match_dlib_on_the_same_chips(dlib_chips_and_codes):
    names, chips, dlib_codes = dlib_chips_and_codes
    assert len(names) >= LFW_SAMPLE, "too few faces found to call this parity"
    coder = FaceCoder()
    distances = np.linalg.norm(coder.get_batch(chips) - dlib_codes, axis=1)
    print(
        f"\nface code parity, {len(names)} faces: max L2 {distances.max():.2e}, mean {distances.mean():.2e}"
    )
    far = [
        f"{name}: {distance:.4f}"
        for name, distance in zip(names, distances, strict=True)
        if distance >= MAX_L2
    ]
    assert not far, f"torch codes differ from dlib's: {far}"


def test_one_chip_at_a_time_matches_the_batch(dlib_chips_and_codes):
    _, chips, _ = dlib_chips_and_codes
    coder = FaceCoder()
    batch = coder.get_batch(chips[:8])
    one_by_one = np.concatenate([coder.get_batch(chip[np.newaxis]) for chip in chips[:8]])
    np.testing.assert_allclose(one_by_one, batch, atol=1e-5)
