"""The numpy port of dlib's 5-point shape predictor: the parsed cascade, and parity with dlib.shape_predictor.

Both predictors get the same rectangles (dlib's HOG detector on real photos, plus the same boxes pushed half
out of the image) and must give the same points; dlib rounds them to whole pixels, and so does the port.
"""

import numpy as np
import pytest

from recognition.align import DLIB_5_POINT_NAMES, face_chip
from recognition.images import read_rgb
from recognition.models.dlib_format import DlibFormatError
from recognition.models.landmarks import LandmarkPredictor, convert_dat
from recognition.models.weights import dat_path
from recognition.types import Face
from tests.facedata import FACEDATA, IDENTITIES, spread_photos

CROWD = FACEDATA / "scenes" / "group_dlib_bald_guys.jpg"  # a collage of about 25 faces
LFW_SAMPLE = 20
MAX_POINT_ERROR = 0.5  # pixels: dlib gives whole pixels, so anything within this is the same point

MODEL = dat_path("shape_predictor_5_face_landmarks.dat")


def edges(rect) -> tuple[float, float, float, float]:
    """A dlib rectangle (inclusive corners) as a Face box in pixel edges, as the detector gives it."""
    return (rect.left(), rect.top(), rect.right() + 1, rect.bottom() + 1)


def moved(dlib, rect, dx: int, dy: int):
    return dlib.rectangle(rect.left() + dx, rect.top() + dy, rect.right() + dx, rect.bottom() + dy)


@pytest.fixture(scope="module")
def dlib():
    return pytest.importorskip("dlib", reason="dlib-bin is the reference for landmark parity")


@pytest.fixture(scope="module")
def predictor() -> LandmarkPredictor:
    predictor = LandmarkPredictor()
    predictor.prepare("cpu")
    return predictor


@pytest.fixture(scope="module")
def dlib_faces(dlib) -> list[tuple[str, np.ndarray, object]]:
    """(name, image, dlib rectangle) for every face the HOG detector finds in the sample photos, and for the
    same rectangle moved so that its left half (or top half) lies outside the image."""
    if not IDENTITIES.is_dir():
        pytest.skip(f"real face data is absent: no {IDENTITIES}")
    detector = dlib.get_frontal_face_detector()
    faces = []
    for photo in spread_photos(LFW_SAMPLE, max):
        image = read_rgb(photo)
        for index, rect in enumerate(detector(image)):
            name = f"{photo.parent.name}/{photo.name}#{index}"
            out_left = -rect.left() - rect.width() // 2
            out_top = -rect.top() - rect.height() // 2
            faces.append((name, image, rect))
            faces.append((f"{name} half out left", image, moved(dlib, rect, out_left, 0)))
            faces.append((f"{name} half out top", image, moved(dlib, rect, 0, out_top)))
    assert len(faces) >= 3 * LFW_SAMPLE, "too few faces found to call this parity"
    return faces


# ---- the parsed model ----------------------------------------------------------------------------------


def test_convert_dat_reads_the_whole_cascade():
    state = convert_dat(MODEL)
    levels, trees, nodes = state["split_pixels"].shape[:3]
    assert (levels, trees, nodes) == (15, 500, 15)  # dlib's 5-point model: 15 levels of 500 depth-4 trees
    assert state["split_thresholds"].shape == (levels, trees, nodes)
    assert state["leaf_values"].shape == (levels, trees, nodes + 1, 5, 2)
    assert state["initial_shape"].shape == (5, 2)
    pixels = state["anchor_points"].shape[1]
    assert state["anchor_deltas"].shape == (levels, pixels, 2)
    assert 0 <= int(state["split_pixels"].min()) and int(state["split_pixels"].max()) < pixels
    assert 0 <= int(state["anchor_points"].min()) and int(state["anchor_points"].max()) < 5
    # The mean shape in the unit box: the image-right eye first (dlib's part order), the nose lowest.
    shape = state["initial_shape"].numpy()
    assert shape[0, 0] > shape[1, 0] > shape[4, 0] > shape[3, 0] > shape[2, 0]
    assert shape[4, 1] > shape[:4, 1].max() and ((0 < shape) & (shape < 1)).all()


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda data: data[:5000], "truncated"),
        (lambda data: b"\x01\x02" + data[2:], "version 2"),
    ],
    ids=["truncated", "unknown version"],
)
def test_a_damaged_model_file_is_refused(tmp_path, damage, message):
    damaged = tmp_path / "shape_predictor.dat"
    damaged.write_bytes(damage(MODEL.read_bytes()))
    with pytest.raises(DlibFormatError, match=message):
        convert_dat(damaged)


# ---- parity with dlib ----------------------------------------------------------------------------------


def test_points_match_dlib_shape_predictor(dlib, dlib_faces, predictor):
    reference = dlib.shape_predictor(str(MODEL))
    errors = {}
    for name, image, rect in dlib_faces:
        theirs = np.array([(p.x, p.y) for p in reference(image, rect).parts()], dtype=np.float64)
        (ours,) = predictor.predict(image, [edges(rect)])
        errors[name] = np.abs(ours - theirs).max()
    worst = max(errors, key=errors.get)
    exact = sum(error == 0 for error in errors.values())
    print(f"\nlandmarks: {len(errors)} boxes, {exact} as dlib's, max error {errors[worst]} px ({worst})")
    assert errors[worst] <= MAX_POINT_ERROR, {name: e for name, e in errors.items() if e > MAX_POINT_ERROR}


def test_a_crowd_in_one_batch_matches_dlib_and_one_face_at_a_time(dlib, predictor):
    if not CROWD.is_file():
        pytest.skip(f"real face data is absent: no {CROWD}")
    image = read_rgb(CROWD)
    rects = list(dlib.get_frontal_face_detector()(image))
    assert len(rects) >= 10
    batch = predictor.predict(image, [edges(rect) for rect in rects])
    one_at_a_time = np.stack([predictor.predict(image, [edges(rect)])[0] for rect in rects])
    np.testing.assert_array_equal(batch, one_at_a_time)
    reference = dlib.shape_predictor(str(MODEL))
    theirs = np.array([[(p.x, p.y) for p in reference(image, rect).parts()] for rect in rects])
    assert np.abs(batch - theirs).max() <= MAX_POINT_ERROR


def test_get_names_the_points_and_aligns_as_dlib(dlib, dlib_faces, predictor):
    """End to end without dlib at run time: our keypoints, our chip; against dlib's points and chip."""
    reference = dlib.shape_predictor(str(MODEL))
    for name, image, rect in dlib_faces[::3][:10]:  # faces as detected, not the ones pushed out of the image
        face = Face(box=edges(rect), score=1.0)
        keypoints = predictor.get(image, face)
        assert face.keypoints is keypoints and tuple(keypoints) == DLIB_5_POINT_NAMES
        x = {point: xy[0] for point, xy in keypoints.items()}
        assert x["left_eye_outer"] < x["left_eye_inner"] < x["right_eye_inner"] < x["right_eye_outer"], name
        shape = reference(image, rect)
        difference = np.abs(face_chip(image, keypoints).astype(np.int16) - dlib.get_face_chip(image, shape))
        assert difference.mean() < 0.1 and difference.max() <= 2, name


# ---- bad input -----------------------------------------------------------------------------------------


def test_images_that_are_not_rgb_uint8_are_refused(predictor):
    if not CROWD.is_file():
        pytest.skip(f"real face data is absent: no {CROWD}")
    image = read_rgb(CROWD)
    box = [(10, 10, 110, 110)]
    with pytest.raises(ValueError, match="RGB uint8"):
        predictor.predict(image.astype(np.float32), box)
    with pytest.raises(ValueError, match="RGB uint8"):
        predictor.predict(image[..., 0], box)
    assert predictor.predict(image, []).shape == (0, 5, 2)


def test_prepare_knows_only_cpu_and_cuda(predictor):
    predictor.prepare("cuda")  # the trees stay on the CPU; the call is for a uniform interface
    with pytest.raises(ValueError, match="tpu"):
        predictor.prepare("tpu")
