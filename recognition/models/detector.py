"""dlib's MMOD CNN face detector (``mmod_human_face_detector.dat``) in torch.

Three parts reproduce ``dlib.cnn_face_detection_model_v1`` (dlib 19.24 / 20):
- the network ``con<1,9,9> rcon5 rcon5 rcon5 downsampler``, with each affine layer folded into its conv;
- dlib's tiled image pyramid (``input_rgb_image_pyramid<pyramid_down<6>>``): every level is 5/6 of the one
  above, made by bilinear resizing of the level above, and all levels are tiled into one zero-padded image
  so that the network runs once per image;
- MMOD decoding: every output cell scoring above 0 is an 80x80 window in the tiled image, mapped back
  through its pyramid level into the image, then greedy non-max suppression with the file's overlap test.

Bounding the pyramid by a minimum face size skips the large levels, which hold most of the work.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from recognition.types import Face

__all__ = ["FaceDetector", "MMODNet", "TiledPyramid", "convert_mmod_detector", "tiled_pyramid"]

PYRAMID_N = 6  # pyramid_down<6>
_PYRAMID_RATE = (PYRAMID_N - 1.0) / PYRAMID_N
_PYRAMID_UP_RATIO = PYRAMID_N / (PYRAMID_N - 1.0)
_MIN_LEVEL_HEIGHT = 5  # dlib stops the pyramid before a level this short


# ---------------------------------------------------------------------------------------------- network


def _conv(in_channels: int, out_channels: int, kernel: int, stride: int) -> nn.Conv2d:
    # dlib's con_ pads kernel//2 only when the stride is 1.
    return nn.Conv2d(in_channels, out_channels, kernel, stride, padding=kernel // 2 if stride == 1 else 0)


class MMODNet(nn.Module):
    """The detector network; ``forward`` maps normalised tiled pyramids (B,3,H,W) to scores (B,1,h,w)."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            _conv(3, 16, 5, 2), nn.ReLU(inplace=True),
            _conv(16, 32, 5, 2), nn.ReLU(inplace=True),
            _conv(32, 32, 5, 2), nn.ReLU(inplace=True),
            _conv(32, 45, 5, 1), nn.ReLU(inplace=True),
            _conv(45, 45, 5, 1), nn.ReLU(inplace=True),
            _conv(45, 45, 5, 1), nn.ReLU(inplace=True),
        )  # fmt: skip
        self.head = _conv(45, 1, 9, 1)
        # Settings read from the file travel in the state dict, so the strict loader checks them too.
        self.register_buffer("pixel_mean", torch.zeros(3))  # RGB, subtracted before dividing by 256
        self.register_buffer("detector_window", torch.zeros(2, dtype=torch.float64))  # width, height
        self.register_buffer("nms_overlap", torch.zeros(2, dtype=torch.float64))  # iou, percent covered
        self.register_buffer("pyramid_padding", torch.zeros(2, dtype=torch.int64))  # between, outer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))

    def output_to_input(self) -> tuple[int, int]:
        """(stride, offset) such that output cell c looks at tensor pixel stride*c + offset (dlib's mapping)."""
        stride, offset = 1, 0
        for conv in reversed([m for m in self.modules() if isinstance(m, nn.Conv2d)]):
            offset = offset * conv.stride[0] - conv.padding[0] + conv.kernel_size[0] // 2
            stride *= conv.stride[0]
        return stride, offset


def convert_mmod_detector(layers: Sequence[dict], loss: dict, input_layer: dict) -> dict[str, torch.Tensor]:
    """State dict of `MMODNet` from the parsed .dat: affine (or batch-norm) layers folded into the conv before them.

    ``layers`` run from the input to the output; each is {"type": "con", "weight", "bias", "stride",
    "padding"}, {"type": "affine", "gamma", "beta"} or {"type": "relu"}.
    """
    reference = MMODNet()
    convs = [m for m in reference.modules() if isinstance(m, nn.Conv2d)]
    keys = [name for name, m in reference.named_modules() if isinstance(m, nn.Conv2d)]
    state: dict[str, torch.Tensor] = {}
    conv_index = -1
    for layer in layers:
        kind = layer["type"]
        if kind == "con":
            conv_index += 1
            conv = convs[conv_index]
            weight = torch.as_tensor(np.asarray(layer["weight"], dtype=np.float32))
            if tuple(weight.shape) != tuple(conv.weight.shape) or tuple(layer["stride"]) != conv.stride or tuple(
                layer["padding"]
            ) != conv.padding:
                raise ValueError(f"conv layer {conv_index} of the .dat does not match MMODNet: {weight.shape}")
            state[f"{keys[conv_index]}.weight"] = weight
            state[f"{keys[conv_index]}.bias"] = torch.as_tensor(np.asarray(layer["bias"], dtype=np.float32))
        elif kind == "affine":
            gamma = torch.as_tensor(np.asarray(layer["gamma"], dtype=np.float32))
            beta = torch.as_tensor(np.asarray(layer["beta"], dtype=np.float32))
            key = keys[conv_index]
            state[f"{key}.weight"] = state[f"{key}.weight"] * gamma[:, None, None, None]
            state[f"{key}.bias"] = state[f"{key}.bias"] * gamma + beta
        elif kind != "relu":
            raise ValueError(f"unexpected layer {kind!r} in the MMOD detector")
    if conv_index != len(convs) - 1:
        raise ValueError(f"the .dat has {conv_index + 1} conv layers, MMODNet has {len(convs)}")
    windows = loss["detector_windows"]
    if len(windows) != 1:
        raise ValueError(f"MMODNet decodes one detector window, the .dat has {len(windows)}")
    state["pixel_mean"] = torch.tensor(input_layer["mean"], dtype=torch.float32)
    state["detector_window"] = torch.tensor(windows[0], dtype=torch.float64)
    state["nms_overlap"] = torch.tensor(loss["overlaps_nms"], dtype=torch.float64)
    state["pyramid_padding"] = torch.tensor(input_layer["padding"], dtype=torch.int64)
    return state


# ---------------------------------------------------------------------------------------------- pyramid


@dataclass(frozen=True)
class TiledPyramid:
    """Where pyramid levels first_level, first_level+1, ... sit in one tiled image (dlib rectangles: inclusive)."""

    rects: tuple[tuple[int, int, int, int], ...]  # left, top, right, bottom
    first_level: int
    height: int
    width: int


def pyramid_level_sizes(height: int, width: int) -> list[tuple[int, int]]:
    """(height, width) of every level of dlib's pyramid_down<6> pyramid, the image itself first."""
    sizes = [(height, width)]
    while True:
        height, width = math.floor(_PYRAMID_RATE * height), math.floor(_PYRAMID_RATE * width)
        if height * width == 0 or height < _MIN_LEVEL_HEIGHT:
            return sizes
        sizes.append((height, width))


def tiled_pyramid(height: int, width: int, padding: int, outer_padding: int, first_level: int = 0) -> TiledPyramid:
    """dlib's compute_tiled_image_pyramid_details, optionally starting at a smaller level.

    The first level runs down the left column; once the rest fits beside it, the remaining levels climb the
    right-hand side from the bottom, and any that would overlap the first level are dropped.
    """
    sizes = pyramid_level_sizes(height, width)[first_level:]
    top_height, top_width = sizes[0]
    total_height = sum(h + padding for h, _ in sizes) - 2 * padding
    column_height, previous_width = 0, 0
    for h, w in sizes:
        if w <= top_width - previous_width - padding and (column_height - top_height) * 2 >= (
            total_height - top_height
        ):
            break
        column_height += h + padding
        previous_width = w
    column_height -= padding

    rects: list[tuple[int, int, int, int]] = []
    y = outer_padding
    while y < column_height + outer_padding and len(rects) < len(sizes):
        h, w = sizes[len(rects)]
        rects.append((outer_padding, y, outer_padding + w - 1, y + h - 1))
        y += h + padding
    y -= padding
    first = rects[0]
    while len(rects) < len(sizes):
        h, w = sizes[len(rects)]
        rect = (outer_padding + top_width - w, y - h, outer_padding + top_width - 1, y - 1)
        if rect[0] <= first[2] and rect[2] >= first[0] and rect[1] <= first[3] and rect[3] >= first[1]:
            break
        rects.append(rect)
        y -= h + padding
    return TiledPyramid(tuple(rects), first_level, column_height + 2 * outer_padding, top_width + 2 * outer_padding)


def build_tiled_pyramid(images: torch.Tensor, layout: TiledPyramid) -> torch.Tensor:
    """Tile the normalised images (B,3,H,W) into layout; each level is the bilinear resize of the one above."""
    batch, channels = images.shape[:2]
    tiled = images.new_zeros(batch, channels, layout.height, layout.width)
    sizes = pyramid_level_sizes(*images.shape[-2:])
    level = images
    for size in sizes[1 : layout.first_level + 1]:
        level = _resize(level, size)
    for index, (left, top, right, bottom) in enumerate(layout.rects):
        if index:
            level = _resize(level, (bottom - top + 1, right - left + 1))
        tiled[:, :, top : bottom + 1, left : right + 1] = level
    return tiled


def _resize(level: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    # dlib's resize_bilinear maps corner pixel centres onto corner pixel centres.
    return F.interpolate(level, size=size, mode="bilinear", align_corners=True)


def first_level_for(min_face_size: float | None) -> int:
    """The largest pyramid level whose detector boxes are all at least min_face_size pixels wide.

    A window 80 px wide at level L becomes a box of 79 * 1.2**L + 1 pixels, give or take one from rounding.
    """
    if not min_face_size or min_face_size <= 0:
        return 0
    return max(0, math.floor(math.log(max(min_face_size - 2, 1) / 79.0) / math.log(_PYRAMID_UP_RATIO)))


# ---------------------------------------------------------------------------------------------- decoding


def _rect_overlaps(kept: np.ndarray, rect: np.ndarray, iou: float, covered: float) -> bool:
    """dlib's test_box_overlap between rect and any of kept (inclusive integer rectangles)."""
    if not len(kept):
        return False
    inner_w = np.minimum(kept[:, 2], rect[2]) - np.maximum(kept[:, 0], rect[0]) + 1
    inner_h = np.minimum(kept[:, 3], rect[3]) - np.maximum(kept[:, 1], rect[1]) + 1
    inner = np.where((inner_w > 0) & (inner_h > 0), inner_w * inner_h, 0).astype(np.float64)
    outer = (np.maximum(kept[:, 2], rect[2]) - np.minimum(kept[:, 0], rect[0]) + 1) * (
        np.maximum(kept[:, 3], rect[3]) - np.minimum(kept[:, 1], rect[1]) + 1
    )
    area_kept = (kept[:, 2] - kept[:, 0] + 1) * (kept[:, 3] - kept[:, 1] + 1)
    area_rect = (rect[2] - rect[0] + 1) * (rect[3] - rect[1] + 1)
    hit = (inner / outer > iou) | (inner / area_kept > covered) | (inner / area_rect > covered)
    return bool(np.any((inner > 0) & hit))


def _round_half_away(values: np.ndarray) -> np.ndarray:
    # dlib-bin 20 rounds -4.5 to -5 when it turns a drectangle into a rectangle (std::round, not floor(x+.5)).
    return np.sign(values) * np.floor(np.abs(values) + 0.5)


def decode_detections(
    scores: np.ndarray,
    layout: TiledPyramid,
    stride: int,
    offset: int,
    window: tuple[float, float],
    nms_overlap: tuple[float, float],
    threshold: float = 0.0,
) -> list[tuple[np.ndarray, float]]:
    """dlib's loss_mmod_::to_label for one (h,w) score map: inclusive integer rects in the image, and scores."""
    rows, cols = np.nonzero(scores > threshold)
    if not len(rows):
        return []
    confidence = scores[rows, cols].astype(np.float64)
    x = cols.astype(np.float64) * stride + offset
    y = rows.astype(np.float64) * stride + offset

    rects = np.asarray(layout.rects, dtype=np.float64)
    dx = np.maximum(np.maximum(rects[None, :, 0] - x[:, None], x[:, None] - rects[None, :, 2]), 0)
    dy = np.maximum(np.maximum(rects[None, :, 1] - y[:, None], y[:, None] - rects[None, :, 3]), 0)
    nearest = np.argmin(np.hypot(dx, dy), axis=1)  # dlib's nearest_rect: the first of equals wins

    half_w, half_h = (window[0] - 1) / 2, (window[1] - 1) / 2
    corners = np.stack([x - half_w, y - half_h, x + half_w, y + half_h], axis=1)
    corners -= rects[nearest][:, [0, 1, 0, 1]]
    levels = nearest + layout.first_level
    for step in range(1, int(levels.max()) + 1):
        up = levels >= step
        corners[up] = corners[up] * _PYRAMID_UP_RATIO + 0.3
    boxes = _round_half_away(corners).astype(np.int64)

    order = np.argsort(-confidence, kind="stable")
    kept: list[int] = []
    for index in order:
        if not _rect_overlaps(boxes[kept], boxes[index], *nms_overlap):
            kept.append(index)
    return [(boxes[i], float(confidence[i])) for i in kept]


# ---------------------------------------------------------------------------------------------- wrapper


def _pyramid_up_size(height: int, width: int) -> tuple[int, int]:
    # dlib rounds pyramid_down<2>::rect_up of the image rectangle, (p + (1.25, 0.75)) * 2, to integers.
    return math.floor((height - 1 + 0.75) * 2 + 0.5) + 1, math.floor((width - 1 + 1.25) * 2 + 0.5) + 1


class FaceDetector:
    """dlib's CNN face detector: ``detect(img_rgb)`` returns faces with box (x1, y1, x2, y2) and score.

    Boxes are dlib's integer rectangles in pixel-edge coordinates: dlib's (left, top, right, bottom) is
    (x1, y1, x2 - 1, y2 - 1), so ``Face.width`` equals dlib's ``rect.width()``.
    """

    def __init__(self, state_dict: dict[str, torch.Tensor]) -> None:
        self.net = MMODNet()
        self.net.load_state_dict(state_dict, strict=True)
        self.net.eval()
        self.device = torch.device("cpu")
        self._stride, self._offset = self.net.output_to_input()
        self._window = tuple(self.net.detector_window.tolist())
        self._nms_overlap = tuple(self.net.nms_overlap.tolist())
        self._padding, self._outer_padding = (int(v) for v in self.net.pyramid_padding.tolist())
        self._mean = self.net.pixel_mean.view(1, 3, 1, 1)

    def prepare(self, device: str | torch.device = "cpu") -> "FaceDetector":
        self.device = torch.device(device)
        self.net.to(self.device, memory_format=torch.channels_last)
        self._mean = self.net.pixel_mean.view(1, 3, 1, 1)
        return self

    def detect(self, img_rgb: np.ndarray, min_face_size: int | None = None, upsample: int = 0) -> list[Face]:
        return self.detect_batch([img_rgb], min_face_size, upsample)[0]

    @torch.inference_mode()
    def detect_batch(
        self, images: Sequence[np.ndarray], min_face_size: int | None = None, upsample: int = 0
    ) -> list[list[Face]]:
        """Faces in each RGB uint8 image (H,W,3); images of the same size run as one batch."""
        for image in images:
            if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
                raise ValueError("detect expects RGB uint8 images of shape (H, W, 3)")
        groups: dict[tuple[int, int], list[int]] = {}
        for index, image in enumerate(images):
            groups.setdefault(image.shape[:2], []).append(index)
        results: list[list[Face]] = [[] for _ in images]
        scale = 2**upsample
        first_level = first_level_for(min_face_size * scale if min_face_size else None)
        for indices in groups.values():
            batch = torch.from_numpy(np.stack([images[i] for i in indices])).to(self.device)
            batch = batch.permute(0, 3, 1, 2).float()
            for _ in range(upsample):
                batch = self._pyramid_up(batch)
            height, width = batch.shape[-2:]
            levels = len(pyramid_level_sizes(height, width))
            layout = tiled_pyramid(height, width, self._padding, self._outer_padding, min(first_level, levels - 1))
            tiled = build_tiled_pyramid((batch - self._mean) / 256.0, layout)
            scores = self.net(tiled.contiguous(memory_format=torch.channels_last))[:, 0].float().cpu().numpy()
            for index, score_map in zip(indices, scores, strict=True):
                detections = decode_detections(
                    score_map, layout, self._stride, self._offset, self._window, self._nms_overlap
                )
                results[index] = [self._face(box, score, upsample) for box, score in detections]
        return results

    @staticmethod
    def _pyramid_up(batch: torch.Tensor) -> torch.Tensor:
        # dlib's pyramid_up(img, pyramid_down<2>) stretches the uint8 image onto its rounded rect_up size.
        size = _pyramid_up_size(*batch.shape[-2:])
        return F.interpolate(batch, size=size, mode="bilinear", align_corners=True).floor()

    @staticmethod
    def _face(box: np.ndarray, score: float, upsample: int) -> Face:
        corners = box.astype(np.float64)
        for _ in range(upsample):  # pyramid_down<2>::rect_down, rounded once at the end as dlib does
            corners = corners / 2.0 - np.array([1.25, 0.75, 1.25, 0.75])
        left, top, right, bottom = _round_half_away(corners)
        return Face(box=(float(left), float(top), float(right + 1), float(bottom + 1)), score=score)
