"""dlib's MMOD CNN face detector (mmod_human_face_detector.dat) in torch: dlib-bin 20's boxes and scores.

Three parts reproduce ``dlib.cnn_face_detection_model_v1``:
- the network ``con<1,9,9> rcon5<45> x3 downsampler`` (three 5x5/2 convs of 16, 32, 32 filters), each
  affine layer folded into the conv before it. dlib pads a conv by kernel/2 only when its stride is 1;
- dlib's tiled image pyramid (``input_rgb_image_pyramid<pyramid_down<6>>``): the image is normalised as
  (pixel - mean) / 256, every level is the corner-aligned bilinear resize of the level above to 5/6 of its
  size, and all levels are tiled into one zero-padded image so that the network runs once per image;
- MMOD decoding: each output cell scoring above 0 is the file's 80x80 window, centred where the cell looks
  in the tiled image and mapped through its pyramid level into the image; then greedy non-max suppression
  with the file's overlap test on dlib's integer rectangles.

The window is 80 px, so a face s px wide is found on the level where it shrinks to about 80 px. Bounding the
face sizes searched builds and runs only the rows of the tiled image that the searched levels' output cells
see, so those cells score exactly as in the whole pyramid. dlib stacks the smallest levels beside the large
ones, which caps the saving: faces 100 to 480 px wide in a 640x480 frame take 56% of the rows.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from recognition.models.dlib_format import affine_from_bn, folded_conv, read_network
from recognition.models.weights import load_weights
from recognition.types import Face

__all__ = [
    "Decoding",
    "FaceDetector",
    "MMODNet",
    "TiledPyramid",
    "convert_dat",
    "decode_detections",
    "WINDOW_STEPS",
    "detected_face",
    "level_of",
    "levels_for",
    "search_levels",
    "tiled_pyramid",
    "zone_on_level",
]

_PYRAMID_N = 6  # pyramid_down<6>
_PYRAMID_RATE = (_PYRAMID_N - 1.0) / _PYRAMID_N
_PYRAMID_UP = _PYRAMID_N / (_PYRAMID_N - 1.0)
_MIN_LEVEL_HEIGHT = 5  # dlib ends the pyramid before a level this short
_NO_LAST_LEVEL = 10**6
# (filters, kernel, stride) from the input side: the downsampler, three rcon5 blocks, then the score layer
_CONVS = ((16, 5, 2), (32, 5, 2), (32, 5, 2), (45, 5, 1), (45, 5, 1), (45, 5, 1), (1, 9, 1))
_SPECTRAL_TILE = 32  # FFT block of the stride-1 convs: measured fastest of 16, 24, 32, 40 and 48 here
# Each FFT conv reads its whole spectral weight (17 MB a layer) however few blocks it transforms, so on small
# maps (the area searches around followed faces) the direct conv is faster: on one thread, 42x77 maps took
# 7.5 ms direct against 17.9 ms by FFT, 171x82 (21 blocks) 34 against 37, 222x82 (24 blocks, a whole 640x480
# frame) 52 against 32 (the first two of those layers, median of 7 runs each).
_SPECTRAL_MIN_BLOCKS = 24


# ------------------------------------------------------------------------------------------------ network


@dataclass(frozen=True)
class Decoding:
    """How MMODNet's output cells become detections: the network's geometry and the file's MMOD settings."""

    stride: int  # output cell c is centred on tiled-image pixel stride * c + offset
    offset: int
    context: int  # and sees the pixels up to this far from its centre
    window: tuple[float, float]  # width, height
    nms_overlap: tuple[float, float]  # iou, percent covered
    threshold: float = 0.0


class MMODNet(nn.Module):
    """Normalised tiled pyramids (B, 3, H, W) -> detection scores (B, 1, h, w), one cell per 8 pixels.

    The 5x5 stride-1 convs and the 9x9 score layer, which do two thirds of the multiply-adds on the
    1/8-resolution maps, run as `spectral_conv` (on maps large enough to pay for it) and `shifted_taps_conv`:
    the same convolutions with less arithmetic (float32 rounding differs, by about 1e-6 of a score). Their
    weights in that form are derived from the convs' whenever a state dict is loaded.
    """

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        in_channels = 3
        for filters, kernel, stride in _CONVS[:-1]:
            layers += [_dlib_conv(in_channels, filters, kernel, stride), nn.ReLU(inplace=True)]
            in_channels = filters
        self.body = nn.Sequential(*layers)
        self.head = _dlib_conv(in_channels, *_CONVS[-1])
        # What the file says beyond the weights travels in the state dict, so the strict loader checks it too.
        self.register_buffer("mean_rgb", torch.zeros(3))
        self.register_buffer("window", torch.zeros(2, dtype=torch.float64))  # width, height
        self.register_buffer("nms_overlap", torch.zeros(2, dtype=torch.float64))  # iou, percent covered
        self.register_buffer("pyramid_padding", torch.zeros(2, dtype=torch.int64))  # between levels, outer
        self.spectral_convs = [m for m in self.body if isinstance(m, nn.Conv2d) and m.stride == (1, 1)]
        for index in range(len(self.spectral_convs)):
            self.register_buffer(f"spectral_weight{index}", torch.empty(0), persistent=False)
            self.register_buffer(f"spectral_bias{index}", torch.empty(0), persistent=False)
        self.register_buffer("head_taps", torch.empty(0), persistent=False)
        self.derive_fast_weights()
        self.register_load_state_dict_post_hook(lambda module, _: module.derive_fast_weights())

    @torch.no_grad()
    def derive_fast_weights(self) -> None:
        """The stride-1 convs' weights as tile spectra, and the score layer's as one row per tap."""
        for index, conv in enumerate(self.spectral_convs):
            weight, bias = spectral_weights(conv.weight, conv.bias, _SPECTRAL_TILE)
            setattr(self, f"spectral_weight{index}", weight)
            setattr(self, f"spectral_bias{index}", bias)
        weight = self.head.weight  # (1, C, k, k): row dy * k + dx holds tap (dy, dx) of every channel
        self.head_taps = weight[0].flatten(1).t().contiguous()

    def forward(self, tiled: torch.Tensor) -> torch.Tensor:
        features = tiled
        spectral = 0
        for layer in self.body:
            if isinstance(layer, nn.Conv2d) and layer.stride == (1, 1):
                kernel = layer.kernel_size[0]
                if _spectral_blocks(features.shape, kernel) >= _SPECTRAL_MIN_BLOCKS:
                    weight = getattr(self, f"spectral_weight{spectral}")
                    bias = getattr(self, f"spectral_bias{spectral}")
                    features = spectral_conv(features, weight, bias, _SPECTRAL_TILE, kernel)
                else:
                    features = layer(features)
                spectral += 1
            else:
                features = layer(features)
        return shifted_taps_conv(features, self.head_taps, self.head.bias)

    def decoding(self) -> Decoding:
        """Where output cells sit in the tiled image (dlib's map_output_to_input), and the file's settings."""
        convs = [m for m in self.modules() if isinstance(m, nn.Conv2d)]
        offset = 0
        for conv in convs[::-1]:
            offset = offset * conv.stride[0] - conv.padding[0] + conv.kernel_size[0] // 2
        stride, context = 1, 0
        for conv in convs:
            context += conv.kernel_size[0] // 2 * stride
            stride *= conv.stride[0]
        window = (float(self.window[0]), float(self.window[1]))
        overlap = (float(self.nms_overlap[0]), float(self.nms_overlap[1]))
        return Decoding(stride, offset, context, window, overlap)


def _dlib_conv(in_channels: int, filters: int, kernel: int, stride: int) -> nn.Conv2d:
    return nn.Conv2d(in_channels, filters, kernel, stride, padding=kernel // 2 if stride == 1 else 0)


def _spectral_blocks(shape: torch.Size, kernel: int) -> int:
    """How many FFT blocks `spectral_conv` transforms for features of `shape` (B, C, H, W)."""
    step = _SPECTRAL_TILE - kernel + 1
    return shape[0] * -(-shape[2] // step) * -(-shape[3] // step)


def spectral_weights(
    weight: torch.Tensor, bias: torch.Tensor, tile: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """A (O, C, k, k) conv as `spectral_conv` applies it: per frequency of a tile x tile FFT, the real
    (2 O, 2 C) matrix of the complex product; and the bias as the blocks' DC term."""
    # correlation is a product with the conjugate spectrum; float64 so that only the run itself rounds
    spectrum = torch.fft.rfft2(weight.double(), s=(tile, tile)).conj().permute(2, 3, 0, 1).flatten(0, 1)
    real, imag = spectrum.real, spectrum.imag
    blocks = torch.cat([torch.cat([real, -imag], 2), torch.cat([imag, real], 2)], 1)
    return blocks.to(weight.dtype).contiguous(), (bias * tile * tile).view(-1, 1)


def spectral_conv(
    features: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, tile: int, kernel: int
) -> torch.Tensor:
    """The same-padded stride-1 conv of (B, C, H, W) `features`, by overlap-save FFT convolution.

    Each tile x tile block, overlapping its neighbours by kernel - 1, is transformed once; every output
    channel is then one multiply-add per input channel and frequency instead of kernel**2 per pixel.
    """
    batch, channels, height, width = features.shape
    step, pad = tile - kernel + 1, kernel // 2
    rows, cols = -(-height // step), -(-width // step)
    margins = (pad, cols * step + kernel - 1 - width - pad, pad, rows * step + kernel - 1 - height - pad)
    padded = F.pad(features, margins).contiguous()
    blocks = padded.unfold(2, tile, step).unfold(3, tile, step)  # B, C, rows, cols, tile, tile
    spectra = torch.view_as_real(torch.fft.rfft2(blocks))  # B, C, rows, cols, tile, tile // 2 + 1, 2
    frequencies = spectra.shape[-2]
    # frequency-major, real and imaginary parts stacked over the channels, one column per block
    spectra = spectra.permute(4, 5, 6, 1, 0, 2, 3).reshape(tile * frequencies, 2 * channels, -1)
    product = torch.bmm(weight, spectra)  # F, 2 O, blocks
    out_channels = product.shape[1] // 2
    product[0, :out_channels] += bias  # the zero frequency's real part
    product = product.view(tile, frequencies, 2, out_channels, batch, rows, cols).permute(4, 3, 5, 6, 0, 1, 2)
    outputs = torch.fft.irfft2(torch.view_as_complex(product.contiguous()), s=(tile, tile))[..., :step, :step]
    outputs = outputs.permute(0, 1, 2, 4, 3, 5).reshape(batch, out_channels, rows * step, cols * step)
    return outputs[:, :, :height, :width]


def shifted_taps_conv(features: torch.Tensor, taps: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """The same-padded conv of (B, C, H, W) `features` with one k x k filter, given as its (k*k, C) taps.

    A direct conv with a single output channel keeps the vector units a ninth busy. Here one matrix
    product gives every tap's channel sum at every pixel, and two strided sums add the shifted taps up.
    """
    batch, channels, height, width = features.shape
    kernel = math.isqrt(taps.shape[0])
    padded = F.pad(features, (kernel // 2,) * 4)
    padded_height, padded_width = padded.shape[-2:]
    plane = padded_height * padded_width
    per_tap = taps @ padded.reshape(batch, channels, plane)  # B, k*k, plane; tap (dy, dx) summed at (y, x)
    # score(y, x) = sum over dy, dx of per_tap[dy, dx] at (y + dy, x + dx): first over dx, then dy
    rows = per_tap.as_strided(
        (batch, kernel, kernel, padded_height, width),
        (kernel * kernel * plane, kernel * plane, plane + 1, padded_width, 1),
    ).sum(2)
    scores = rows.as_strided(
        (batch, kernel, height, width),
        (kernel * padded_height * width, padded_height * width + width, width, 1),
    ).sum(1)
    return (scores + bias).unsqueeze(1)


def convert_dat(path: Path) -> dict[str, torch.Tensor]:
    """State dict of `MMODNet` from dlib's .dat (the timm checkpoint_filter_fn of this model)."""
    input_layer, *body, loss = read_network(path)[::-1]
    expected = ["con", "affine", "relu"] * (len(_CONVS) - 1) + ["con"]
    body = [affine_from_bn(layer) if layer.kind == "bn_con" else layer for layer in body]
    if (input_layer.kind, [layer.kind for layer in body], loss.kind) != (
        "input_rgb_image_pyramid",
        expected,
        "loss_mmod",
    ):
        raise ValueError(f"{path} does not hold dlib's MMOD face detector")
    options = loss.attrs
    if len(options["detector_windows"]) != 1 or options["use_bounding_box_regression"]:
        raise ValueError(f"{path}: MMODNet decodes one detector window without box regression")

    model = MMODNet()
    convs = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    cons = [layer for layer in body if layer.kind == "con"]
    affines = [layer for layer in body if layer.kind == "affine"] + [None]
    state_dict: dict[str, torch.Tensor] = {}
    for (name, conv), con, affine in zip(convs, cons, affines, strict=True):
        weight, bias = folded_conv(con, affine, tuple(conv.weight.shape), conv.stride, conv.padding)
        state_dict[f"{name}.weight"] = torch.from_numpy(weight)
        state_dict[f"{name}.bias"] = torch.from_numpy(bias)
    window = options["detector_windows"][0]
    overlap = options["overlaps_nms"]
    padding = (input_layer.attrs["pyramid_padding"], input_layer.attrs["pyramid_outer_padding"])
    state_dict["mean_rgb"] = torch.tensor(input_layer.attrs["mean_rgb"], dtype=torch.float32)
    state_dict["window"] = torch.tensor([window["width"], window["height"]], dtype=torch.float64)
    state_dict["nms_overlap"] = torch.tensor(
        [overlap["iou_thresh"], overlap["percent_covered_thresh"]], dtype=torch.float64
    )
    state_dict["pyramid_padding"] = torch.tensor(padding, dtype=torch.int64)
    return state_dict


# ------------------------------------------------------------------------------------------------ pyramid


@dataclass(frozen=True)
class TiledPyramid:
    """dlib's tiled pyramid image: where every level sits, which levels are searched, which rows are built.

    When only some levels are searched, only the rows around them that their output cells see are built and
    run, so that those cells score exactly as in dlib's whole image. The first row built is a multiple of
    the network stride, which keeps the cells on the same pixels.
    """

    rects: tuple[tuple[int, int, int, int], ...]  # dlib rectangles: left, top, right, bottom, inclusive
    height: int
    width: int
    levels: tuple[int, int]  # first and last level searched
    rows: tuple[int, int]  # first row built, and the row after the last


def pyramid_level_sizes(height: int, width: int) -> list[tuple[int, int]]:
    """(height, width) of every level of dlib's pyramid_down<6> pyramid, the image itself first."""
    sizes = [(height, width)]
    while True:
        height, width = math.floor(_PYRAMID_RATE * height), math.floor(_PYRAMID_RATE * width)
        if height * width == 0 or height < _MIN_LEVEL_HEIGHT:
            return sizes
        sizes.append((height, width))


def tiled_pyramid(height: int, width: int, padding: int, outer_padding: int) -> TiledPyramid:
    """dlib's compute_tiled_image_pyramid_details, every level searched.

    Levels run down the left column until the rest fit beside them; those then climb the right-hand side
    from the bottom, and the ones that would overlap the image itself are left out.
    """
    sizes = pyramid_level_sizes(height, width)
    total_height = sum(h + padding for h, _ in sizes) - 2 * padding
    column_height, previous_width = 0, 0
    for h, w in sizes:
        if w <= width - previous_width - padding and 2 * (column_height - height) >= total_height - height:
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
    image_right, image_bottom = rects[0][2], rects[0][3]
    while len(rects) < len(sizes):
        h, w = sizes[len(rects)]
        left, top = outer_padding + width - w, y - h
        if left <= image_right and top <= image_bottom:
            break
        rects.append((left, top, outer_padding + width - 1, y - 1))
        y -= h + padding
    tiled_height = column_height + 2 * outer_padding
    return TiledPyramid(
        tuple(rects), tiled_height, width + 2 * outer_padding, (0, len(rects) - 1), (0, tiled_height)
    )


def search_levels(layout: TiledPyramid, first: int, last: int, decoding: Decoding) -> TiledPyramid:
    """`layout` searching levels first..last only: the rows that none of their output cells sees are cut.

    Searched cells start half a window outside their level: a window centred further out shows less than
    half of it.
    """
    last = min(last, len(layout.rects) - 1)
    first = min(first, last)
    if (first, last) == layout.levels:
        return layout
    searched = layout.rects[first : last + 1]
    margin = int(decoding.window[1]) // 2 + decoding.context
    top = max(min(rect[1] for rect in searched) - margin, 0) // decoding.stride * decoding.stride
    bottom = min(max(rect[3] for rect in searched) + 1 + margin, layout.height)
    return replace(layout, levels=(first, last), rows=(top, bottom))


def build_tiled_pyramid(
    images: torch.Tensor, layout: TiledPyramid, last_level: int | None = None
) -> torch.Tensor:
    """The rows `layout.rows` of the tiled pyramid of the normalised images (B, 3, H, W), channels-last; with
    `last_level`, the smaller levels after it are left blank (each level is made from the one before, so a
    level costs the ones above it too)."""
    batch, channels = images.shape[:2]
    first_row, end_row = layout.rows
    tiled = images.new_zeros(batch, end_row - first_row, layout.width, channels).permute(0, 3, 1, 2)
    level = images
    rects = layout.rects if last_level is None else layout.rects[: last_level + 1]
    for index, (left, top, right, bottom) in enumerate(rects):
        if index:
            level = _resize(level, (bottom - top + 1, right - left + 1))
        start, end = max(top, first_row), min(bottom + 1, end_row)
        if start < end:
            tiled[:, :, start - first_row : end - first_row, left : right + 1] = level[
                :, :, start - top : end - top
            ]
    return tiled


def _resize(level: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """dlib's resize_bilinear, which maps the corner pixel centres onto each other: one linear pass along
    the rows, then one along the columns (a bilinear pass's weights, in a third less time on 3 channels)."""
    batch, channels, height, width = level.shape
    along_rows = level.reshape(batch * channels, height, width)
    along_rows = F.interpolate(along_rows, size=size[1], mode="linear", align_corners=True)
    along_columns = along_rows.transpose(1, 2).contiguous()
    along_columns = F.interpolate(along_columns, size=size[0], mode="linear", align_corners=True)
    return along_columns.transpose(1, 2).reshape(batch, channels, *size)


# ------------------------------------------------------------------------------------------------ decoding


WINDOW_STEPS = 79  # the 80 px window: a box found on level L is 79 * 1.2**L pixel steps wide, plus one pixel


def levels_for(min_face_size: float | None, max_face_size: float | None) -> tuple[int, int]:
    """The first and last pyramid levels that can give a box between min_face_size and max_face_size wide.

    Boxes on level L are WINDOW_STEPS * 1.2**L steps wide plus one pixel, give or take one from rounding both
    edges.
    """
    first, last = 0, _NO_LAST_LEVEL
    if min_face_size and min_face_size - 2 > WINDOW_STEPS:
        first = math.floor(math.log((min_face_size - 2) / WINDOW_STEPS) / math.log(_PYRAMID_UP)) + 1
    if max_face_size:
        last = math.floor(math.log(max(max_face_size, WINDOW_STEPS) / WINDOW_STEPS) / math.log(_PYRAMID_UP))
    return first, last


def level_of(face_width: float) -> int:
    """The pyramid level a box `face_width` pixels wide was found on."""
    return round(math.log(max(face_width - 1.0, 1.0) / WINDOW_STEPS, _PYRAMID_UP))


def zone_on_level(
    box: Sequence[float], rect: tuple[int, int, int, int], level: int, decoding: Decoding
) -> tuple[int, int, int, int] | None:
    """Where image box `box` falls on pyramid level `level`, in tiled pixels: the inverse of the detector's
    point_up (p -> 1.2 p + 0.3 a level); cells up to half a window outside their level belong to it, as in
    dlib. None when the box misses the level."""
    left, top, right, bottom = rect
    scale = _PYRAMID_UP**level
    lift = 1.5 * (scale - 1)
    zone = []
    for axis, (start, end), half in (
        (0, (left, right), decoding.window[0] / 2),
        (1, (top, bottom), decoding.window[1] / 2),
    ):
        low = max(math.floor((box[axis] - lift) / scale) + start, math.floor(start - half))
        high = min(math.ceil((box[axis + 2] - lift) / scale) + start, math.ceil(end + half))
        if low >= high:
            return None
        zone.append((low, high))
    (x1, x2), (y1, y2) = zone
    return x1, y1, x2, y2


def _round_half_away(values: np.ndarray) -> np.ndarray:
    # How dlib-bin 20 turns a drectangle into a rectangle: -4.5 becomes -5, measured on real detections.
    return np.sign(values) * np.floor(np.abs(values) + 0.5)


def _overlaps_any(kept: np.ndarray, rect: np.ndarray, iou: float, covered: float) -> bool:
    """dlib's test_box_overlap of rect against each kept rect; IoU is over the bounding box, as in dlib."""
    inner_w = np.minimum(kept[:, 2], rect[2]) - np.maximum(kept[:, 0], rect[0]) + 1
    inner_h = np.minimum(kept[:, 3], rect[3]) - np.maximum(kept[:, 1], rect[1]) + 1
    inner = np.where((inner_w > 0) & (inner_h > 0), inner_w * inner_h, 0)
    outer = (np.maximum(kept[:, 2], rect[2]) - np.minimum(kept[:, 0], rect[0]) + 1) * (
        np.maximum(kept[:, 3], rect[3]) - np.minimum(kept[:, 1], rect[1]) + 1
    )
    kept_area = (kept[:, 2] - kept[:, 0] + 1) * (kept[:, 3] - kept[:, 1] + 1)
    rect_area = (rect[2] - rect[0] + 1) * (rect[3] - rect[1] + 1)
    hit = (inner / outer > iou) | (inner / kept_area > covered) | (inner / rect_area > covered)
    return bool(np.any((inner > 0) & hit))


def decode_detections(
    scores: np.ndarray, layout: TiledPyramid, decoding: Decoding
) -> list[tuple[np.ndarray, float]]:
    """dlib's loss_mmod_::to_label for one (h, w) score map: (dlib rectangle in the image, score) pairs."""
    rows, cols = np.nonzero(scores > decoding.threshold)
    if not len(rows):
        return []
    first_row, end_row = layout.rows
    x = cols * float(decoding.stride) + decoding.offset
    y = rows * float(decoding.stride) + decoding.offset + first_row
    rects = np.asarray(layout.rects, dtype=np.float64)
    dx = np.maximum(np.maximum(rects[:, 0] - x[:, None], x[:, None] - rects[:, 2]), 0)
    dy = np.maximum(np.maximum(rects[:, 1] - y[:, None], y[:, None] - rects[:, 3]), 0)
    levels = np.argmin(np.hypot(dx, dy), axis=1)  # dlib's nearest_rect: the first of equals wins
    searched = (levels >= layout.levels[0]) & (levels <= layout.levels[1])
    if first_row > 0:  # rows were cut: keep the cells that saw only rows that were built
        searched &= y - decoding.context >= first_row
    if end_row < layout.height:
        searched &= y + decoding.context < end_row
    if not searched.any():
        return []
    x, y, levels, confidence = x[searched], y[searched], levels[searched], scores[rows, cols][searched]

    half_w, half_h = (decoding.window[0] - 1) / 2, (decoding.window[1] - 1) / 2
    corners = np.stack([x - half_w, y - half_h, x + half_w, y + half_h], axis=1)
    corners -= rects[levels][:, [0, 1, 0, 1]]
    for step in range(1, int(levels.max()) + 1):  # pyramid_down<6>::point_up, one level at a time
        up = levels >= step
        corners[up] = corners[up] * _PYRAMID_UP + 0.3
    boxes = _round_half_away(corners).astype(np.int64)

    kept: list[int] = []
    for index in np.argsort(-confidence, kind="stable"):
        if not kept or not _overlaps_any(boxes[kept], boxes[index], *decoding.nms_overlap):
            kept.append(index)
    return [(boxes[i], float(confidence[i])) for i in kept]


# ------------------------------------------------------------------------------------------------ wrapper


class FaceDetector:
    """Faces in RGB images, InsightFace model_zoo style: `prepare(device)`, then `detect` / `detect_batch`.

    Boxes are dlib's integer rectangles in pixel-edge coordinates: dlib's (left, top, right, bottom) is
    (x1, y1, x2 - 1, y2 - 1), so `Face.width` is dlib's `rect.width()`. Scores are dlib's confidences.
    """

    def __init__(self) -> None:
        self.net = load_weights(MMODNet(), "detector").eval()
        self.decoding = self.net.decoding()
        self._padding, self._outer_padding = (int(value) for value in self.net.pyramid_padding.tolist())
        self.prepare("cpu")

    def prepare(self, device: str = "cpu") -> None:
        self.device = torch.device(device)
        self.net = self.net.to(self.device, memory_format=torch.channels_last)

    def detect(
        self,
        img_rgb: np.ndarray,
        min_face_size: int | None = None,
        upsample: int = 0,
        max_face_size: int | None = None,
    ) -> list[Face]:
        """Faces in one (H, W, 3) uint8 RGB image; see `detect_batch`."""
        return self.detect_batch([img_rgb], min_face_size, upsample, max_face_size)[0]

    def detect_batch(
        self,
        images: Sequence[np.ndarray],
        min_face_size: int | None = None,
        upsample: int = 0,
        max_face_size: int | None = None,
    ) -> list[list[Face]]:
        """Faces in each (H, W, 3) uint8 RGB image, best first; images of one size run as one batch.

        min_face_size and max_face_size (box widths in image pixels) skip the pyramid levels that can only
        give boxes outside them, and the work of the large levels with them. Every face dlib finds within
        the bounds is still found, with dlib's box and score; a face just outside them may come out too, or
        on a box that dlib's larger or smaller one suppressed. upsample doubles the image that many times
        first (dlib's upsample_num_times), for faces under 80 px.
        """
        for image in images:
            if not (isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3):
                raise ValueError("images must be uint8 arrays of shape (H, W, 3)")
            if image.shape[2] != 3 or min(image.shape[:2]) < 1:
                raise ValueError(f"images must be RGB (H, W, 3), got shape {image.shape}")
        if upsample < 0:
            raise ValueError(f"upsample must be 0 or more, got {upsample}")
        if min_face_size and max_face_size and min_face_size > max_face_size:
            raise ValueError(f"min_face_size {min_face_size} is above max_face_size {max_face_size}")
        scale = 2**upsample
        levels = levels_for(min_face_size and min_face_size * scale, max_face_size and max_face_size * scale)
        groups: dict[tuple[int, int], list[int]] = {}
        for index, image in enumerate(images):
            groups.setdefault(image.shape[:2], []).append(index)
        results: list[list[Face]] = [[] for _ in images]
        for (height, width), indices in groups.items():
            if min(height * scale, width * scale) < min(self.decoding.window):
                continue  # smaller than the detector window: no face fits, and the convs would not either
            detections_per_image = self._detect_same_size([images[i] for i in indices], levels, upsample)
            for index, detections in zip(indices, detections_per_image, strict=True):
                results[index] = [detected_face(box, score, upsample) for box, score in detections]
        return results

    def normalised(self, pixels: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) float RGB pixels as the network takes them: less dlib's mean colour, over 256."""
        return (pixels - self.net.mean_rgb.view(1, 3, 1, 1)) / 256.0

    @torch.inference_mode()
    def _detect_same_size(
        self, images: list[np.ndarray], levels: tuple[int, int], upsample: int
    ) -> list[list[tuple[np.ndarray, float]]]:
        # uint8 crosses to the device; the pyramid is built channels-last, the layout the convs run fastest in
        pixels = torch.from_numpy(np.stack(images)).to(self.device).float().permute(0, 3, 1, 2)
        for _ in range(upsample):
            pixels = _resize(pixels, _pyramid_up_size(*pixels.shape[-2:])).floor()
        layout = tiled_pyramid(*pixels.shape[-2:], self._padding, self._outer_padding)
        layout = search_levels(layout, *levels, self.decoding)
        scores = self.net(build_tiled_pyramid(self.normalised(pixels), layout))[:, 0].float().cpu().numpy()
        return [decode_detections(score_map, layout, self.decoding) for score_map in scores]


def _pyramid_up_size(height: int, width: int) -> tuple[int, int]:
    # dlib's pyramid_up(img, pyramid_down<2>) stretches the image over the rounded pyramid_down<2>::rect_up
    # of its rectangle, whose bottom-right corner (w - 1, h - 1) goes to (2w + 0.5, 2h - 0.5).
    return 2 * height + 1, 2 * width + 2


def detected_face(box: np.ndarray, score: float, upsample: int = 0) -> Face:
    """The Face of one decoded detection: dlib's inclusive rectangle on the (upsampled) image as a box in the
    image's pixels."""
    corners = box.astype(np.float64)
    if upsample:  # pyramid_down<2>::rect_down once per doubling, rounded at the end as dlib does
        for _ in range(upsample):
            corners = corners / 2.0 - np.array([1.25, 0.75, 1.25, 0.75])
        corners = _round_half_away(corners)
    left, top, right, bottom = corners
    return Face(box=(float(left), float(top), float(right + 1), float(bottom + 1)), score=score)
