"""Alignment: the least-squares similarity onto dlib's face template, and chips equal to dlib.get_face_chip.

The transform is checked on synthetic keypoints (known similarities recovered exactly, noisy ones against
an independent least-squares solve); the chip cut is checked against dlib-bin on real photos, fed with
dlib's own 5 landmarks through our keypoint names.
"""

import math

import numpy as np
import pytest

from recognition.align import DLIB_5_POINT_NAMES, TEMPLATE, chip_transform, extract_chip, face_chip
from recognition.images import read_rgb
from recognition.models.weights import dat_path
from tests.facedata import IDENTITIES, spread_photos

LFW_SAMPLE = 20
MAX_MEAN_DIFFERENCE = 0.1  # grey levels, averaged over a chip
MAX_PIXEL_DIFFERENCE = 2  # grey levels, any pixel of any chip

needs_facedata = pytest.mark.skipif(
    not IDENTITIES.is_dir(), reason=f"real face data is absent: no {IDENTITIES}"
)


def chip_points(names: list[str], size: int = 150, padding: float = 0.25) -> np.ndarray:
    return (padding + np.array([TEMPLATE[name] for name in names])) / (1 + 2 * padding) * size


def similarity(angle_deg: float, scale: float, shift: tuple[float, float]) -> np.ndarray:
    cos, sin = scale * math.cos(math.radians(angle_deg)), scale * math.sin(math.radians(angle_deg))
    return np.array([[cos, -sin, shift[0]], [sin, cos, shift[1]]])


def apply(transform: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ transform[:, :2].T + transform[:, 2]


def to_image(transform: np.ndarray) -> np.ndarray:
    linear = np.linalg.inv(transform[:, :2])
    return np.hstack([linear, -linear @ transform[:, 2:]])


def dlib_corners(details) -> np.ndarray:
    """The image points dlib samples into the chip's top-left, top-right and bottom-left pixels."""
    rect = details.rect
    center = np.array([(rect.left() + rect.right()) / 2, (rect.top() + rect.bottom()) / 2])
    cos, sin = math.cos(details.angle), math.sin(details.angle)
    corners = np.array([[rect.left(), rect.top()], [rect.right(), rect.top()], [rect.left(), rect.bottom()]])
    return (corners - center) @ np.array([[cos, sin], [-sin, cos]]) + center


# ---- the template --------------------------------------------------------------------------------------


def test_left_means_image_left_for_every_paired_point():
    pairs = [(name, "right_" + name[5:]) for name in TEMPLATE if name.startswith("left_")]
    assert len(pairs) == 16
    for left, right in pairs:
        assert TEMPLATE[left][0] < 0.5 < TEMPLATE[right][0], (left, right)
        assert TEMPLATE[left][1] == pytest.approx(TEMPLATE[right][1], abs=0.003), (left, right)


def test_eye_centres_are_the_mean_of_the_eye_points():
    for side in ("left", "right"):
        eye = [
            xy for name, xy in TEMPLATE.items() if name.startswith(f"{side}_eye_") and "center" not in name
        ]
        assert len(eye) == 6
        np.testing.assert_allclose(TEMPLATE[f"{side}_eye_center"], np.mean(eye, axis=0))


def test_dlib_five_points_are_eye_corners_and_nose_base_in_dlib_order():
    # dlib's part 0 is the subject's left eye outer corner, which is image-right.
    assert DLIB_5_POINT_NAMES == (
        "right_eye_outer",
        "right_eye_inner",
        "left_eye_outer",
        "left_eye_inner",
        "nose_base",
    )
    x = {name: TEMPLATE[name][0] for name in DLIB_5_POINT_NAMES}
    assert (
        x["left_eye_outer"]
        < x["left_eye_inner"]
        < x["nose_base"]
        < x["right_eye_inner"]
        < x["right_eye_outer"]
    )
    assert TEMPLATE["nose_base"][1] > TEMPLATE["nose_tip"][1] > TEMPLATE["left_eye_inner"][1]


# ---- the transform -------------------------------------------------------------------------------------


def dlib_pixels(template_points: np.ndarray, scale: float, size: int = 150) -> np.ndarray:
    """Where dlib samples points of a template fitted with `scale` image pixels per template unit: chip
    pixel (size-1)/2 is the template's centre size/2, and neighbouring chip pixels are
    (size*scale-1)/(size-1) image pixels apart."""
    step = (size * scale - 1) / (size - 1)
    return (size - 1) / 2 + scale / step * (template_points - size / 2)


@pytest.mark.parametrize(
    "names",
    [["left_eye_center", "right_eye_center"], list(DLIB_5_POINT_NAMES), list(TEMPLATE)],
    ids=["eye centres", "dlib 5 points", "every template point"],
)
@pytest.mark.parametrize(
    ("to_image", "scale"),
    [
        (similarity(0, 1, (0, 0)), 1),
        (similarity(23, 2.7, (310.5, -40.25)), 2.7),
        (similarity(-170, 0.4, (12, 900)), 0.4),
    ],
    ids=["identity", "rotated and enlarged", "upside down and shrunk"],
)
def test_exact_keypoints_land_where_dlib_samples_the_template(names, to_image, scale):
    template = chip_points(names)
    keypoints = dict(zip(names, map(tuple, apply(to_image, template)), strict=True))
    transform = chip_transform(keypoints)
    np.testing.assert_allclose(
        apply(transform, apply(to_image, template)), dlib_pixels(template, scale), atol=1e-9
    )


def test_at_unit_scale_chip_pixels_sit_half_a_pixel_before_the_template():
    names = list(DLIB_5_POINT_NAMES)
    transform = chip_transform(dict(zip(names, map(tuple, chip_points(names) + [7, -3]), strict=True)))
    np.testing.assert_allclose(transform, [[1, 0, -7.5], [0, 1, 2.5]], atol=1e-12)


def test_size_and_padding_frame_the_template():
    names = list(DLIB_5_POINT_NAMES)
    keypoints = dict(zip(names, map(tuple, chip_points(names, size=300, padding=0.5)), strict=True))
    transform = chip_transform(keypoints, size=300, padding=0.5)
    np.testing.assert_allclose(transform, [[1, 0, -0.5], [0, 1, -0.5]], atol=1e-12)
    # The same points in the default framing: the face square is 150/1.5 chip pixels, not 300/2.
    default = chip_transform(keypoints)
    scale = (300 / 2) / (150 / 1.5)
    assert 1 / math.hypot(*default[:, 0]) == pytest.approx((150 * scale - 1) / 149)


def test_noisy_keypoints_give_the_least_squares_fit_of_the_template():
    """Against an independent solve of x' = a x - b y + tx, y' = b x + a y + ty, template to keypoints."""
    names = list(DLIB_5_POINT_NAMES) + ["left_mouth_corner", "right_mouth_corner", "nose_tip"]
    template = chip_points(names)
    noise = np.array(
        [[1.5, -2], [0.3, 0.9], [-1.1, 0.4], [2.2, 1], [-0.7, -1.9], [0, 2.5], [1.3, -0.6], [-2, 0]]
    )
    keypoints = apply(similarity(12, 1.8, (40, 25)), template) + noise
    rows = [[x, -y, 1, 0] for x, y in template] + [[y, x, 0, 1] for x, y in template]
    targets = np.concatenate([keypoints[:, 0], keypoints[:, 1]])
    (a, b, tx, ty), *_ = np.linalg.lstsq(np.array(rows), targets, rcond=None)
    fit = np.array([[a, -b, tx], [b, a, ty]])
    transform = chip_transform(dict(zip(names, map(tuple, keypoints), strict=True)))
    expected = dlib_pixels(template, math.hypot(a, b))
    np.testing.assert_allclose(apply(transform, apply(fit, template)), expected, atol=1e-9)


@pytest.mark.parametrize(
    ("keypoints", "message"),
    [
        ({"left_eye_center": (1.0, 2.0)}, "at least 2"),
        ({"left_eye_center": (1.0, 2.0), "left_ear": (5.0, 2.0)}, "left_ear"),
        ({"left_eye_center": (3.0, 3.0), "right_eye_center": (3.0, 3.0)}, "coincide"),
    ],
    ids=["one point", "unknown name", "coincident points"],
)
def test_unusable_keypoints_are_refused(keypoints, message):
    with pytest.raises(ValueError, match=message):
        chip_transform(keypoints)


# ---- the chip ------------------------------------------------------------------------------------------


@needs_facedata
def test_an_unscaled_unrotated_chip_is_a_plain_crop():
    image = read_rgb(IDENTITIES / "Barack_Obama" / "1.jpg")
    chip = extract_chip(image, similarity(0, 1, (-37, -52)), size=120)
    np.testing.assert_array_equal(chip, image[52:172, 37:157])


@needs_facedata
def test_bad_images_and_transforms_are_refused():
    image = read_rgb(IDENTITIES / "Barack_Obama" / "1.jpg")
    with pytest.raises(ValueError, match="RGB uint8"):
        extract_chip(image.astype(np.float32), similarity(0, 1, (0, 0)))
    with pytest.raises(ValueError, match="RGB uint8"):
        extract_chip(image[..., 0], similarity(0, 1, (0, 0)))
    with pytest.raises(ValueError, match="similarity"):
        extract_chip(image, np.array([[1.0, 0.3, 0], [0, 1, 0]]))  # a shear
    with pytest.raises(ValueError, match="similarity"):
        extract_chip(image, np.array([[-1.0, 0, 0], [0, 1, 0]]))  # a mirror


@pytest.fixture(scope="module")
def dlib_faces() -> list[tuple[str, np.ndarray, object]]:
    """(name, image, dlib 5-point shape) for every face dlib's HOG detector finds in the sample photos."""
    dlib = pytest.importorskip("dlib", reason="dlib-bin is the reference for chip parity")
    if not IDENTITIES.is_dir():
        pytest.skip(f"real face data is absent: no {IDENTITIES}")
    detector = dlib.get_frontal_face_detector()
    landmarks = dlib.shape_predictor(str(dat_path("shape_predictor_5_face_landmarks.dat")))
    faces = []
    for photo in spread_photos(LFW_SAMPLE):
        image = read_rgb(photo)
        for index, box in enumerate(detector(image)):
            faces.append((f"{photo.parent.name}/{photo.name}#{index}", image, landmarks(image, box)))
    assert len(faces) >= LFW_SAMPLE, "too few faces found to call this parity"
    return faces


# 150 is the face-code chip; at 64 every face is far larger than the chip, so dlib's pyramid is used.
@pytest.mark.parametrize("size", [150, 64])
def test_chips_match_dlib_get_face_chip(dlib_faces, size):
    import dlib

    differences = {}
    for name, image, shape in dlib_faces:
        keypoints = {
            n: (float(p.x), float(p.y)) for n, p in zip(DLIB_5_POINT_NAMES, shape.parts(), strict=True)
        }
        ours = face_chip(image, keypoints, size=size)
        theirs = dlib.get_face_chip(image, shape, size=size, padding=0.25)
        details = dlib.get_face_chip_details(shape, size=size, padding=0.25)
        corner_pixels = np.array([[0, 0], [size - 1, 0], [0, size - 1]], dtype=np.float64)
        np.testing.assert_allclose(
            apply(to_image(chip_transform(keypoints, size)), corner_pixels), dlib_corners(details), atol=1e-6
        )
        assert ours.shape == theirs.shape == (size, size, 3)
        differences[name] = np.abs(ours.astype(np.int16) - theirs.astype(np.int16))
    means = {name: float(d.mean()) for name, d in differences.items()}
    largest = max(int(d.max()) for d in differences.values())
    print(
        f"\nchip {size}: {len(means)} faces, mean |diff| {np.mean(list(means.values())):.3f}, max {largest}"
    )
    assert all(mean < MAX_MEAN_DIFFERENCE for mean in means.values()), means
    assert largest <= MAX_PIXEL_DIFFERENCE
