"""Face parsing: a compact U-Net-like FCN giving each pixel of a face crop one of the 11 LaPa / Helen classes.

Layout follows timm: blocks, the network, a private `_create_parser`, registered entry points looked up by
`create_parser(name)`; then `FaceParser`, the InsightFace-style wrapper that crops faces by detector box.
Encoder of stride-2 stages (full 3x3 convolutions in the first `plain_stages`, depthwise-separable after),
skips kept; a light decoder of bilinear upsampling, skip concatenation and one depthwise-separable block per
level; logits at half resolution, upsampled at the end. BatchNorm is folded into the convolutions for
inference (`fold_batchnorm`). `DEFAULT_PARSER` and `CROP_SIZE` name the committed weights' architecture and
crop; the model card (`cards/parser.md`) says how they were chosen and trained.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from recognition.models.weights import COMMITTED, load_committed
from recognition.types import CLASSES, Face, Parsing

__all__ = [
    "CLASSES",
    "CROP_MARGIN",
    "CROP_SIZE",
    "DEFAULT_PARSER",
    "FaceParser",
    "ParserNet",
    "create_parser",
    "crop_transform",
    "fold_batchnorm",
]

CROP_SIZE = 160  # the committed weights' crop side
DEFAULT_PARSER = "parser_plain"  # the committed weights' architecture
CROP_MARGIN = 0.5  # added on every side, times the box's longer side: the detector box is brows-to-chin


class ConvBnAct(nn.Module):
    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1, groups: int = 1
    ):
        super().__init__()
        self.conv = nn.Conv2d(
            in_channels, out_channels, kernel_size, stride, kernel_size // 2, groups=groups, bias=False
        )
        self.bn = nn.BatchNorm2d(out_channels)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class SeparableBlock(nn.Module):
    """Depthwise 3x3 then pointwise 1x1, each with BN and ReLU (MobileNet v1 block)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.depthwise = ConvBnAct(in_channels, in_channels, 3, stride, groups=in_channels)
        self.pointwise = ConvBnAct(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


class PlainBlock(nn.Module):
    """Two full 3x3 convolutions, the first with the stride: cheap enough where channels are few, and it sees
    colour and texture together, which thin parts (brows, eye lids) need."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.first = ConvBnAct(in_channels, out_channels, 3, stride)
        self.second = ConvBnAct(out_channels, out_channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.second(self.first(x))


class ParserNet(nn.Module):
    """(N, 3, S, S) RGB pixels in 0..255 -> (N, 11, S, S) logits; S divisible by 2**len(widths).

    A stride-2 stem, then one stage per further width, each halving the resolution; the first `plain_stages`
    stages use full 3x3 convolutions, the rest depthwise-separable ones. The decoder climbs back to the stem's
    resolution through the skips; its logits are upsampled bilinearly to the input's size.
    """

    def __init__(
        self,
        widths: Sequence[int] = (16, 32, 64, 128),
        num_classes: int = len(CLASSES),
        plain_stages: int = 0,
    ):
        super().__init__()
        self.stem = ConvBnAct(3, widths[0], stride=2)
        self.encoder = nn.ModuleList(
            PlainBlock(widths[i], widths[i + 1], stride=2)
            if i < plain_stages
            else nn.Sequential(
                SeparableBlock(widths[i], widths[i + 1], stride=2),
                SeparableBlock(widths[i + 1], widths[i + 1]),
            )
            for i in range(len(widths) - 1)
        )
        self.decoder = nn.ModuleList(
            SeparableBlock(widths[i + 1] + widths[i], widths[i]) for i in reversed(range(len(widths) - 1))
        )
        self.head = nn.Conv2d(widths[0], num_classes, 1)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        x = self.stem((pixels - 127.5) / 64.0)
        skips = []
        for stage in self.encoder:
            skips.append(x)
            x = stage(x)
        for block, skip in zip(self.decoder, reversed(skips), strict=True):
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = block(torch.cat([x, skip], dim=1))
        return F.interpolate(self.head(x), size=pixels.shape[-2:], mode="bilinear", align_corners=False)


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """Fold every eval-mode BatchNorm of a `ConvBnAct` into its convolution, in place (inference only)."""
    for module in model.modules():
        if isinstance(module, ConvBnAct) and isinstance(module.bn, nn.BatchNorm2d):
            bn, conv = module.bn, module.conv
            scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
            fused = nn.Conv2d(
                conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                groups=conv.groups, bias=True,
            )  # fmt: skip
            with torch.no_grad():
                fused.weight.copy_(conv.weight * scale[:, None, None, None])
                fused.bias.copy_(bn.bias - bn.running_mean * scale)
            module.conv, module.bn = fused, nn.Identity()
    return model


_PARSERS: dict[str, Callable[[], ParserNet]] = {}


def _register(factory: Callable[[], ParserNet]) -> Callable[[], ParserNet]:
    _PARSERS[factory.__name__] = factory
    return factory


def _create_parser(widths: Sequence[int], **options) -> ParserNet:
    return ParserNet(widths, **options)


@_register
def parser_small() -> ParserNet:
    return _create_parser((16, 32, 64, 128))


@_register
def parser_tiny() -> ParserNet:
    return _create_parser((8, 16, 32, 64))


@_register
def parser_plain() -> ParserNet:
    return _create_parser((16, 32, 64, 128), plain_stages=2)


def create_parser(name: str = DEFAULT_PARSER) -> ParserNet:
    try:
        return _PARSERS[name]()
    except KeyError:
        raise KeyError(f"unknown parser {name!r}; known: {', '.join(sorted(_PARSERS))}") from None


def crop_transform(box: Sequence[float], size: int = CROP_SIZE) -> np.ndarray:
    """The 2x3 affine mapping image pixels to the `size` square crop centred on a detector box
    (x1, y1, x2, y2), CROP_MARGIN times its longer side added on every side. Pixel centres map to pixel
    centres, as in the training crops (`recognition.training.datasets.face_crop`)."""
    x1, y1, x2, y2 = box
    scale = size / (max(x2 - x1, y2 - y1, 1.0) * (1 + 2 * CROP_MARGIN))
    shift = 0.5 * scale - 0.5
    return np.array(
        [
            [scale, 0.0, size / 2 - scale * (x1 + x2) / 2 + shift],
            [0.0, scale, size / 2 - scale * (y1 + y2) / 2 + shift],
        ]
    )


class FaceParser:
    """Per-face label maps, InsightFace model_zoo style: `prepare(device)`, then `get`/`get_batch`."""

    def __init__(
        self, weights: Path = COMMITTED["parser"], name: str = DEFAULT_PARSER, crop_size: int = CROP_SIZE
    ):
        net = create_parser(name)
        net.load_state_dict(load_committed(weights), strict=True)
        self.net = fold_batchnorm(net.eval())
        self.input_size = (crop_size, crop_size)
        self.prepare("cpu")

    def prepare(self, device: str = "cpu") -> None:
        self.device = torch.device(device)
        self.net = self.net.to(self.device)

    def get_batch(self, img: np.ndarray, faces: Sequence[Face]) -> list[Parsing]:
        """Parse every face of the RGB uint8 image `img`; each face gets its `parsing` field."""
        if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
            raise ValueError("img must be an RGB uint8 array of shape (H, W, 3)")
        if not faces:
            return []
        transforms = [crop_transform(face.box, self.input_size[0]) for face in faces]
        # black outside the photo, as in the training crops
        crops = np.stack(
            [cv2.warpAffine(img, m, self.input_size, flags=cv2.INTER_LINEAR) for m in transforms]
        )
        with torch.inference_mode():
            pixels = torch.from_numpy(crops).to(self.device).permute(0, 3, 1, 2).float()
            logits = self.net(pixels)
            labels = logits.argmax(dim=1).to(torch.uint8).cpu().numpy()
            # kept for `Parsing.to_image`; channels last already, so no copy on the CPU
            scores = logits.permute(0, 2, 3, 1).cpu().numpy()
        parsings = [
            Parsing(label_map, cv2.invertAffineTransform(m), crop_scores)
            for label_map, m, crop_scores in zip(labels, transforms, scores, strict=True)
        ]
        for face, parsing in zip(faces, parsings, strict=True):
            face.parsing = parsing
        return parsings

    def get(self, img: np.ndarray, face: Face) -> Parsing:
        return self.get_batch(img, [face])[0]
