"""dlib's 5-point face landmark model (``shape_predictor_5_face_landmarks.dat``) in numpy.

The model is an ensemble-of-regression-trees cascade (Kazemi & Sullivan, CVPR 2014) as dlib's
``shape_predictor`` runs it: start from the mean shape in the detection box; at every cascade level, sample
grey pixels at points anchored to the current shape (moved by the similarity that takes the mean shape onto
it), walk each tree by comparing pixel-pair differences with its thresholds, and add the leaves it reaches.
The arithmetic follows dlib's float32/float64 split and its rounding, so the points are dlib's to the pixel.
"""

import functools
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from recognition.align import DLIB_5_POINT_NAMES
from recognition.models.dlib_format import DlibReader
from recognition.models.weights import load_state_dict
from recognition.types import Face, Point

__all__ = ["LandmarkPredictor", "ShapePredictor", "convert_dat"]

_ARRAYS = "initial_shape", "split_pixels", "split_thresholds", "leaf_values", "anchor_points", "anchor_deltas"


def convert_dat(path: str | Path) -> dict[str, torch.Tensor]:
    """The shape predictor in a .dat file (dlib's ``deserialize(shape_predictor&)``) as named tensors.

    dlib grows every tree to the same depth and every cascade level to the same number of trees, so the
    forests stack into arrays: splits (levels, trees, nodes), leaves (levels, trees, leaves, parts, 2).
    """
    reader = DlibReader.from_file(path)
    version = reader.read_int()
    if version != 1:
        raise reader.error(f"unknown shape_predictor version {version}")
    initial_shape = reader.read_matrix().reshape(-1, 2)

    def read_split() -> tuple[int, int, float]:  # impl::split_feature: idx1, idx2, thresh
        return reader.read_uint(), reader.read_uint(), reader.read_float()

    def read_tree() -> tuple[list[tuple[int, int, float]], list[np.ndarray]]:  # impl::regression_tree
        return reader.read_vector(read_split), reader.read_vector(reader.read_matrix)

    def read_point() -> tuple[float, float]:  # dlib::vector<float,2>
        return reader.read_float(), reader.read_float()

    forests = reader.read_vector(lambda: reader.read_vector(read_tree))
    anchor_points = reader.read_vector(lambda: reader.read_vector(reader.read_uint))
    anchor_deltas = reader.read_vector(lambda: reader.read_vector(read_point))
    if not reader.at_end:
        raise reader.error("unexpected bytes after the shape predictor")

    if not len(forests) == len(anchor_points) == len(anchor_deltas):
        raise reader.error(f"{len(forests)} cascade levels but {len(anchor_points)} sets of feature pixels")
    shapes = {(len(splits), len(leaves)) for forest in forests for splits, leaves in forest}
    if len(shapes) != 1 or len({len(forest) for forest in forests}) != 1:
        raise reader.error(f"forests of uneven trees (splits, leaves): {sorted(shapes)}")
    ((num_splits, num_leaves),) = shapes
    if num_leaves != num_splits + 1 or num_leaves & (num_leaves - 1):
        raise reader.error(f"trees with {num_splits} splits and {num_leaves} leaves are not complete")
    splits = np.array([[tree[0] for tree in forest] for forest in forests])  # (levels, trees, nodes, 3)
    arrays = {
        "initial_shape": initial_shape,
        "split_pixels": splits[..., :2].astype(np.int64),
        "split_thresholds": splits[..., 2],
        "leaf_values": np.array([[tree[1] for tree in forest] for forest in forests]).reshape(
            len(forests), -1, num_leaves, *initial_shape.shape
        ),
        "anchor_points": np.array(anchor_points, dtype=np.int64),
        "anchor_deltas": np.array(anchor_deltas),
    }
    num_pixels = arrays["anchor_points"].shape[1]
    if arrays["split_pixels"].max() >= num_pixels or arrays["anchor_points"].max() >= len(initial_shape):
        raise reader.error("a split or an anchor points past the feature pixels or the shape")
    return {
        name: torch.from_numpy(value if value.dtype == np.int64 else value.astype(np.float32))
        for name, value in arrays.items()
    }


class ShapePredictor:
    """dlib's ``shape_predictor::operator()`` over a batch of boxes in one image, vectorised with numpy."""

    def __init__(self, state_dict: dict[str, torch.Tensor]):
        missing = set(_ARRAYS) - set(state_dict)
        if missing:
            raise ValueError(f"shape predictor weights lack {sorted(missing)}")
        arrays = {name: state_dict[name].numpy() for name in _ARRAYS}
        levels, trees, nodes, _ = arrays["split_pixels"].shape
        self.initial_shape = arrays["initial_shape"]  # (parts, 2) in the unit box
        self.anchor_points = arrays["anchor_points"]  # (levels, pixels): the shape part each pixel follows
        self.anchor_deltas = arrays["anchor_deltas"]  # (levels, pixels, 2): its offset from that part
        # The trees of a level laid end to end, so that one take() moves every tree a step down.
        self.tree_depth = int(math.log2(nodes + 1))
        self.num_nodes = nodes
        self.node_offsets = np.arange(trees) * nodes
        self.leaf_offsets = np.arange(trees) * (nodes + 1)
        self.split_first = arrays["split_pixels"][..., 0].reshape(levels, -1)
        self.split_second = arrays["split_pixels"][..., 1].reshape(levels, -1)
        self.split_thresholds = arrays["split_thresholds"].reshape(levels, -1)
        self.leaf_values = arrays["leaf_values"].reshape(levels, trees * (nodes + 1), -1, 2)
        # find_similarity_transform always starts from the initial shape: centre it once (float64, as dlib).
        initial = self.initial_shape.astype(np.float64)
        self.centred_initial = initial - initial.mean(axis=0)
        self.initial_spread = (self.centred_initial**2).sum()

    @property
    def num_parts(self) -> int:
        return len(self.initial_shape)

    def __call__(self, image_rgb: np.ndarray, rects: np.ndarray) -> np.ndarray:
        """Part positions (n, parts, 2), in whole pixels as dlib gives them, for dlib rectangles (n, 4) of
        inclusive (left, top, right, bottom)."""
        rects = np.asarray(rects, dtype=np.int64).reshape(-1, 4)
        origin = rects[:, None, :2].astype(np.float64)
        extent = (rects[:, 2:] - rects[:, :2])[:, None, :].astype(np.float64)  # unnormalizing_tform
        height, width = image_rgb.shape[:2]
        shape = np.broadcast_to(self.initial_shape, (len(rects), *self.initial_shape.shape)).copy()
        pixel_offsets = np.arange(len(rects))[:, None] * self.anchor_points.shape[1]
        for level in range(len(self.split_first)):
            # Feature pixels follow the shape: moved in float32 as dlib, then rounded to image pixels.
            scale_cos, scale_sin = self._similarity_to(shape)
            dx, dy = self.anchor_deltas[level].T
            anchors = shape[:, self.anchor_points[level]]
            x = scale_cos * dx - scale_sin * dy + anchors[..., 0]
            y = scale_sin * dx + scale_cos * dy + anchors[..., 1]
            x = np.floor(origin[..., 0] + extent[..., 0] * x.astype(np.float64) + 0.5).astype(np.int64)
            y = np.floor(origin[..., 1] + extent[..., 1] * y.astype(np.float64) + 0.5).astype(np.int64)
            inside = (x >= 0) & (x < width) & (y >= 0) & (y < height)
            rgb = image_rgb[np.where(inside, y, 0), np.where(inside, x, 0)].astype(np.int32)
            grey = np.where(inside, rgb.sum(axis=-1) // 3, 0).astype(np.float32).ravel()  # dlib's intensity

            node = np.zeros((len(rects), len(self.node_offsets)), dtype=np.int64)
            for _ in range(self.tree_depth):
                at = self.node_offsets + node
                first = grey.take(self.split_first[level].take(at) + pixel_offsets)
                second = grey.take(self.split_second[level].take(at) + pixel_offsets)
                node = 2 * node + np.where(first - second > self.split_thresholds[level].take(at), 1, 2)
            leaves = self.leaf_values[level].take(self.leaf_offsets + node - self.num_nodes, axis=0)
            # dlib adds the trees one after another in float32; accumulate keeps that order.
            shape = np.add.accumulate(np.concatenate([shape[:, None], leaves], axis=1), axis=1)[:, -1]
        return np.floor(origin + extent * shape.astype(np.float64) + 0.5)

    def _similarity_to(self, shapes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """s*cos and s*sin of the least-squares similarities from the initial shape to each of `shapes`
        (dlib's find_similarity_transform, float64), as float32 columns (n, 1) like dlib's matrix_cast."""
        target = shapes.astype(np.float64)
        target -= target.mean(axis=1, keepdims=True)
        source_x, source_y = self.centred_initial.T
        cos = (source_x * target[..., 0] + source_y * target[..., 1]).sum(axis=1) / self.initial_spread
        sin = (source_x * target[..., 1] - source_y * target[..., 0]).sum(axis=1) / self.initial_spread
        return cos.astype(np.float32)[:, None], sin.astype(np.float32)[:, None]


@functools.lru_cache(maxsize=1)
def _shared_predictor() -> ShapePredictor:
    return ShapePredictor(load_state_dict("landmarks"))


class LandmarkPredictor:
    """The 5 keypoints of a detected face (InsightFace's model-zoo shape): ``get(img, face)`` fills
    ``face.keypoints`` with DLIB_5_POINT_NAMES, in whole pixels as dlib gives them."""

    names = DLIB_5_POINT_NAMES

    def __init__(self) -> None:
        self.predictor = _shared_predictor()  # parsed once per process, from weights.py's cache

    def prepare(self, device: str = "cpu") -> None:
        """Nothing to move: a few thousand tree lookups per face run on the CPU whatever the device."""
        if device not in ("cpu", "cuda"):
            raise ValueError(f"unknown device {device!r}; expected 'cpu' or 'cuda'")

    def predict(self, img_rgb: np.ndarray, boxes: Sequence[tuple[float, float, float, float]]) -> np.ndarray:
        """Keypoints (n, 5, 2) for face boxes (x1, y1, x2, y2) given in pixel-edge coordinates, as the
        detector gives them: dlib's rectangle is (x1, y1, x2 - 1, y2 - 1)."""
        if img_rgb.ndim != 3 or img_rgb.shape[2] != 3 or img_rgb.dtype != np.uint8:
            raise ValueError(f"expected an RGB uint8 image (H, W, 3), got {img_rgb.dtype} {img_rgb.shape}")
        edges = np.floor(np.asarray(boxes, dtype=np.float64).reshape(-1, 4) + 0.5)
        return self.predictor(img_rgb, edges - [0, 0, 1, 1])

    def get(self, img_rgb: np.ndarray, face: Face) -> dict[str, Point]:
        (points,) = self.predict(img_rgb, [face.box])
        face.keypoints = {name: (float(x), float(y)) for name, (x, y) in zip(self.names, points, strict=True)}
        return face.keypoints
