"""Face alignment: named keypoints onto dlib's face-chip template, and the chip cut exactly as dlib cuts it.

Alignment holds no model (InsightFace's `face_align` pattern). `chip_transform` fits the least-squares
similarity from the template to whichever named keypoints are known, so the 5-point landmark model today and
face-parsing points later feed the same function. `extract_chip` reproduces `dlib.extract_image_chip` (the
chip rectangle, its pyramid for large faces, its bilinear sampling and rounding) because the face-code
network was trained on dlib's chips and its codes move when the chip moves by a fraction of a pixel.
"""

import math
from collections.abc import Mapping

import numpy as np

from recognition.types import Point

__all__ = ["DLIB_5_POINT_NAMES", "TEMPLATE", "chip_transform", "extract_chip", "face_chip"]

# dlib's mean face (get_face_chip_details), iBUG 300-W points 17..67, in the unit face square; the jaw line
# (points 0..16) is not part of it. "left" is image-left, i.e. the subject's right.
_MEAN_FACE = {
    "left_brow_outer": (0.000213256, 0.106454),
    "left_brow_outer_arch": (0.0752622, 0.038915),
    "left_brow_top": (0.18113, 0.0187482),
    "left_brow_inner_arch": (0.29077, 0.0344891),
    "left_brow_inner": (0.393397, 0.0773906),
    "right_brow_inner": (0.586856, 0.0773906),
    "right_brow_inner_arch": (0.689483, 0.0344891),
    "right_brow_top": (0.799124, 0.0187482),
    "right_brow_outer_arch": (0.904991, 0.038915),
    "right_brow_outer": (0.98004, 0.106454),
    "nose_bridge_top": (0.490127, 0.203352),
    "nose_bridge_upper": (0.490127, 0.307009),
    "nose_bridge_lower": (0.490127, 0.409805),
    "nose_tip": (0.490127, 0.515625),
    "left_nose_wing": (0.36688, 0.587326),
    "left_nostril": (0.426036, 0.609345),
    "nose_base": (0.490127, 0.628106),
    "right_nostril": (0.554217, 0.609345),
    "right_nose_wing": (0.613373, 0.587326),
    "left_eye_outer": (0.121737, 0.216423),
    "left_eye_top_outer": (0.187122, 0.178758),
    "left_eye_top_inner": (0.265825, 0.179852),
    "left_eye_inner": (0.334606, 0.231733),
    "left_eye_bottom_inner": (0.260918, 0.245099),
    "left_eye_bottom_outer": (0.182743, 0.244077),
    "right_eye_inner": (0.645647, 0.231733),
    "right_eye_top_inner": (0.714428, 0.179852),
    "right_eye_top_outer": (0.793132, 0.178758),
    "right_eye_outer": (0.858516, 0.216423),
    "right_eye_bottom_outer": (0.79751, 0.244077),
    "right_eye_bottom_inner": (0.719335, 0.245099),
    "left_mouth_corner": (0.254149, 0.780233),
    "upper_lip_left": (0.340985, 0.745405),
    "upper_lip_left_peak": (0.428858, 0.727388),
    "upper_lip_top": (0.490127, 0.742578),
    "upper_lip_right_peak": (0.551395, 0.727388),
    "upper_lip_right": (0.639268, 0.745405),
    "right_mouth_corner": (0.726104, 0.780233),
    "lower_lip_right": (0.642159, 0.864805),
    "lower_lip_right_mid": (0.556721, 0.902192),
    "lower_lip_bottom": (0.490127, 0.909281),
    "lower_lip_left_mid": (0.423532, 0.902192),
    "lower_lip_left": (0.338094, 0.864805),
    "left_mouth_inner_corner": (0.290379, 0.784792),
    "upper_lip_inner_left": (0.428096, 0.778746),
    "upper_lip_inner": (0.490127, 0.785343),
    "upper_lip_inner_right": (0.552157, 0.778746),
    "right_mouth_inner_corner": (0.689874, 0.784792),
    "lower_lip_inner_right": (0.553364, 0.824182),
    "lower_lip_inner": (0.490127, 0.831803),
    "lower_lip_inner_left": (0.42689, 0.824182),
}

# dlib's shape_predictor_5_face_landmarks part order. The subject's left eye comes first, so parts 0 and 1
# are the image-right eye.
DLIB_5_POINT_NAMES = ("right_eye_outer", "right_eye_inner", "left_eye_outer", "left_eye_inner", "nose_base")

# dlib aligns 5-point shapes to its own refit of these five points (within 0.003 of the mean face above);
# the refit wins so that chips from 5 keypoints are dlib's chips.
_FIVE_POINT_FIT = dict(
    zip(
        DLIB_5_POINT_NAMES,
        [
            (0.8595674595992, 0.2134981538014),
            (0.6460604764104, 0.2289674387677),
            (0.1205750620789, 0.2137274526848),
            (0.3340850613712, 0.2290642403242),
            (0.4901123135679, 0.6277975316475),
        ],
        strict=True,
    )
)


def _with_eye_centers(points: dict[str, Point]) -> dict[str, Point]:
    centers = {}
    for side in ("left", "right"):
        eye = np.array([xy for name, xy in points.items() if name.startswith(f"{side}_eye_")])
        centers[f"{side}_eye_center"] = tuple(float(v) for v in eye.mean(axis=0))
    return points | centers


TEMPLATE: dict[str, Point] = _with_eye_centers(_MEAN_FACE | _FIVE_POINT_FIT)


def _similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares rotation+scale+translation taking src to dst (Umeyama; equal to dlib's
    find_similarity_transform for 2-D points), as a 2x3 matrix."""
    src_z = src[:, 0] + 1j * src[:, 1]
    dst_z = dst[:, 0] + 1j * dst[:, 1]
    src_c, dst_c = src_z - src_z.mean(), dst_z - dst_z.mean()
    a = np.vdot(src_c, dst_c) / np.vdot(src_c, src_c).real
    b = dst_z.mean() - a * src_z.mean()
    return np.array([[a.real, -a.imag, b.real], [a.imag, a.real, b.imag]])


def _invert(affine: np.ndarray) -> np.ndarray:
    linear = np.linalg.inv(affine[:, :2])
    return np.hstack([linear, -linear @ affine[:, 2:]])


def chip_transform(
    keypoints: dict[str, Point],
    size: int = 150,
    padding: float = 0.25,
    template: Mapping[str, Point] = TEMPLATE,
) -> np.ndarray:
    """2x3 similarity taking image pixels to the chip pixels dlib samples them into (its
    get_mapping_to_chip), fitted on every given keypoint; the face square spans size/(1+2*padding) pixels.

    As dlib.get_face_chip_details, the template is fitted onto the keypoints, not the reverse (a different
    least-squares answer). dlib then frames the chip with a rectangle of size*scale image pixels centred on
    the template's centre and samples the chip's corner pixels at the rectangle's corners, which shifts the
    chip by about half a pixel and stretches it by (size*scale-1)/(size-1)/scale; so does this matrix.

    A keypoint model whose points sit elsewhere on the face than on dlib's mean face gives its own
    `template`, in the same unit face square.
    """
    unknown = sorted(set(keypoints) - set(template))
    if unknown:
        raise ValueError(f"keypoints not in the face template: {unknown}")
    if len(keypoints) < 2:
        raise ValueError(f"alignment needs at least 2 keypoints, got {len(keypoints)}")
    if size < 2 or padding < 0:
        raise ValueError(f"need size >= 2 and padding >= 0, got size={size}, padding={padding}")
    names = list(keypoints)
    template_points = (padding + np.array([template[n] for n in names])) / (2 * padding + 1) * size
    fit = _similarity(template_points, np.array([keypoints[n] for n in names], dtype=np.float64))
    scale = math.hypot(fit[0, 0], fit[1, 0])
    step = (size * scale - 1) / (size - 1)  # image pixels between neighbouring chip pixels
    if step <= 0:
        raise ValueError("the keypoints coincide or span less than a pixel: nothing to align")
    linear = fit[:, :2] * (step / scale)
    center = fit @ np.array([size / 2, size / 2, 1.0])
    to_image = np.hstack([linear, (center - linear @ np.full(2, (size - 1) / 2))[:, None]])
    return _invert(to_image)


# ---- dlib's extract_image_chip ------------------------------------------------------------------------
# Rectangles are (left, top, right, bottom) floats with dlib's inclusive convention: width = right-left+1.


def _area(rect: tuple[float, float, float, float]) -> float:
    left, top, right, bottom = rect
    if left > right or top > bottom:
        return 0.0
    return (right - left + 1) * (bottom - top + 1)


def _rect_down(rect: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """pyramid_down<2>.rect_down: where a rectangle lands in the next, half-size pyramid level."""
    left, top, right, bottom = rect
    return (left / 2 - 1.25, top / 2 - 0.75, right / 2 - 1.25, bottom / 2 - 0.75)


def _rounded(value: float) -> int:
    return math.floor(value + 0.5)


def _pyramid_down(image: np.ndarray) -> np.ndarray:
    """dlib pyramid_down<2> on an RGB image: 5-tap [1 4 6 4 1] filter in integers, every other pixel kept."""
    rows, cols = image.shape[:2]
    if rows <= 8 or cols <= 8:
        return image[:0, :0]
    out_rows, out_cols = (rows - 3) // 2, (cols - 3) // 2
    src = image.astype(np.int32)
    weights = (1, 4, 6, 4, 1)
    across = sum(w * src[:, k : k + 2 * out_cols : 2] for k, w in enumerate(weights))
    down = sum(w * across[k : k + 2 * out_rows : 2] for k, w in enumerate(weights))
    return (down // 256).astype(np.uint8)


def _bilinear(image: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """dlib interpolate_bilinear: black where the 2x2 neighbourhood leaves the image, values truncated."""
    rows, cols = image.shape[:2]
    if rows < 2 or cols < 2:
        return np.zeros((*x.shape, 3), np.uint8)
    left, top = np.floor(x), np.floor(y)
    inside = (left >= 0) & (top >= 0) & (left + 1 < cols) & (top + 1 < rows)
    lr, tb = (x - left)[..., None], (y - top)[..., None]
    at = np.where(inside, top * cols + left, 0).astype(np.intp)
    pixels = image.reshape(-1, 3)
    tl, tr = pixels.take(at, axis=0), pixels.take(at + 1, axis=0)
    bl, br = pixels.take(at + cols, axis=0), pixels.take(at + cols + 1, axis=0)
    # dlib's order of operations, so that values landing on whole grey levels truncate the same way.
    value = (1 - tb) * ((1 - lr) * tl + lr * tr) + tb * ((1 - lr) * bl + lr * br)
    value[~inside] = 0
    return value.astype(np.uint8)


def _rotate(center: np.ndarray, points: np.ndarray, angle: float) -> np.ndarray:
    cos, sin = math.cos(angle), math.sin(angle)
    dx, dy = (points - center).T
    return np.stack([cos * dx - sin * dy, sin * dx + cos * dy], axis=1) + center


def _corners(rect: tuple[float, float, float, float]) -> np.ndarray:
    left, top, right, bottom = rect
    return np.array([[left, top], [right, top], [left, bottom], [right, bottom]])  # tl, tr, bl, br


def extract_chip(image_rgb: np.ndarray, transform: np.ndarray, size: int = 150) -> np.ndarray:
    """The size x size RGB chip framed by `transform` (a similarity, image to chip pixels), cut as dlib."""
    if image_rgb.ndim != 3 or image_rgb.shape[2] != 3 or image_rgb.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 image (H, W, 3), got {image_rgb.dtype} {image_rgb.shape}")
    if size < 2:
        raise ValueError(f"a chip needs size >= 2, got {size}")
    transform = np.asarray(transform, dtype=np.float64)
    linear = transform[:, :2] if transform.shape == (2, 3) else np.zeros((2, 2))
    if not (np.isclose(linear[0, 0], linear[1, 1]) and np.isclose(linear[0, 1], -linear[1, 0])) or (
        np.linalg.det(linear) <= 0
    ):
        raise ValueError(f"expected a 2x3 similarity (rotation, scale, shift), got {transform.tolist()}")
    to_image = _invert(transform)
    # dlib's chip_details: a rectangle turned by angle whose corners are the chip's corner pixels.
    angle = math.atan2(to_image[1, 0], to_image[0, 0])
    cx, cy = to_image @ np.array([(size - 1) / 2, (size - 1) / 2, 1.0])
    half = math.hypot(to_image[0, 0], to_image[1, 0]) * (size - 1) / 2
    rect = (cx - half, cy - half, cx + half, cy + half)
    chip_area = size * size
    rows, cols = image_rgb.shape[:2]

    if angle == 0 and size == rect[2] - rect[0] + 1:
        left, top = _rounded(rect[0]), _rounded(rect[1])
        chip = np.zeros((size, size, 3), np.uint8)
        src = image_rgb[max(top, 0) : max(top + size, 0), max(left, 0) : max(left + size, 0)]
        chip[max(-top, 0) : max(-top, 0) + src.shape[0], max(-left, 0) : max(-left, 0) + src.shape[1]] = src
        return chip

    # Bilinear sampling of a much larger face would alias, so dlib first halves the face's surroundings
    # until the face is no more than twice the chip, growing the crop so the pyramid filter has a border.
    depth, grow, down = 0, 2.0, _rect_down(rect)
    while _area(down) > chip_area:
        down, depth, grow = _rect_down(down), depth + 1, grow * 2 + 2
    turned = _rotate(np.array([cx, cy]), _corners(rect), angle)
    crop = (
        max(turned[:, 0].min() - grow, 0),
        max(turned[:, 1].min() - grow, 0),
        min(turned[:, 0].max() + grow, cols - 1),
        min(turned[:, 1].max() + grow, rows - 1),
    )
    left, top, right, bottom = (_rounded(v) for v in crop)
    if left > right or top > bottom:
        return np.zeros((size, size, 3), np.uint8)
    level_image = image_rgb[top : bottom + 1, left : right + 1]

    rect = (rect[0] - left, rect[1] - top, rect[2] - left, rect[3] - top)
    for _ in range(depth):
        level_image = _pyramid_down(level_image)
        rect = _rect_down(rect)
    level_center = np.array([(rect[0] + rect[2]) / 2, (rect[1] + rect[3]) / 2])
    tl, tr, bl, _ = _rotate(level_center, _corners(rect), angle)
    # dlib maps the chip's corner pixels onto the rectangle's corners (size-1 steps across size*scale-1).
    step_x, step_y = (tr - tl) / (size - 1), (bl - tl) / (size - 1)
    r, c = np.mgrid[0:size, 0:size].astype(np.float64)
    x = c * step_x[0] + r * step_y[0] + tl[0]
    y = c * step_x[1] + r * step_y[1] + tl[1]
    return _bilinear(level_image, x, y)


def face_chip(
    image_rgb: np.ndarray,
    keypoints: dict[str, Point],
    size: int = 150,
    padding: float = 0.25,
    template: Mapping[str, Point] = TEMPLATE,
) -> np.ndarray:
    """The chip dlib.get_face_chip(image, shape, size, padding) gives for a shape with these keypoints."""
    return extract_chip(image_rgb, chip_transform(keypoints, size, padding, template), size)
