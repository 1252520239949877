"""dlib's ResNet face descriptor (dlib_face_recognition_resnet_model_v1.dat) in torch: chip in, 128-d out.

The network is dlib's `anet_type` from dnn_face_recognition_ex.cpp: a 7x7/2 stem, 3x3/2 max pool, 14 residual
blocks in five levels, global average pool and a 128-unit fc without bias. dlib's conventions kept here:
input (pixel - mean) / 256 with the mean stored in the file; a strided conv and the pools have no padding;
a residual sum of two tensors of different sizes is taken over the larger one, the smaller zero-padded
(dlib's tt::add), which happens where a level's 3x3/2 conv and its 2x2/2 shortcut pool disagree on size.
Each affine layer is folded into the conv before it when the weights are converted.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from recognition.models.dlib_format import folded_conv, read_network
from recognition.models.weights import load_weights
from recognition.types import Face

__all__ = ["CHIP_SIZE", "FaceCodeNet", "FaceCoder", "convert_dat"]

CHIP_SIZE = 150
CODE_SIZE = 128
# (channels, blocks, whether the first block halves the size), from the input side: dlib's alevel4 ... alevel0
_LEVELS = ((32, 3, False), (64, 4, True), (128, 3, True), (256, 3, True), (256, 1, True))


def _add_zero_padded(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a + b over the larger of the two shapes, the smaller tensor padded with zeros (dlib's tt::add)."""
    if a.shape == b.shape:
        return a + b
    channels, height, width = (max(x, y) for x, y in zip(a.shape[1:], b.shape[1:], strict=True))

    def pad(t: torch.Tensor) -> torch.Tensor:
        return F.pad(t, (0, width - t.shape[3], 0, height - t.shape[2], 0, channels - t.shape[1]))

    return pad(a) + pad(b)


class ResidualBlock(nn.Module):
    """dlib's `ares` / `ares_down`: relu(conv-affine-relu-conv-affine(x) + shortcut(x))."""

    def __init__(self, in_channels: int, channels: int, downsample: bool):
        super().__init__()
        stride, padding = (2, 0) if downsample else (1, 1)
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride=stride, padding=padding)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = self.conv2(F.relu(self.conv1(x)))
        shortcut = F.avg_pool2d(x, 2) if self.downsample else x
        return F.relu(_add_zero_padded(residual, shortcut))


class FaceCodeNet(nn.Module):
    """Batched forward: RGB pixel values (N, 3, 150, 150), float, 0..255 -> (N, 128) face codes."""

    def __init__(self):
        super().__init__()
        self.register_buffer("mean_rgb", torch.zeros(3))
        self.stem = nn.Conv2d(3, 32, 7, stride=2)
        blocks, in_channels = [], 32
        for channels, count, downsample in _LEVELS:
            for index in range(count):
                blocks.append(ResidualBlock(in_channels, channels, downsample and index == 0))
                in_channels = channels
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(in_channels, CODE_SIZE, bias=False)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        x = (pixels - self.mean_rgb.view(1, 3, 1, 1)) / 256.0
        x = F.max_pool2d(F.relu(self.stem(x)), 3, stride=2)
        x = self.blocks(x)
        return self.fc(x.mean(dim=(2, 3)))


def _dlib_layer_kinds() -> list[str]:
    """The layer kinds dlib's anet_type serializes, from the loss to the input."""
    kinds = ["input_rgb_image_sized", "con", "affine", "relu", "max_pool"]  # from the input side
    for _, count, downsample in _LEVELS:
        for index in range(count):
            kinds += ["tag_or_skip", "con", "affine", "relu", "con", "affine"]
            if downsample and index == 0:
                kinds += ["tag_or_skip", "tag_or_skip", "avg_pool"]
            kinds += ["add_prev", "relu"]
    kinds += ["avg_pool", "fc", "loss_metric"]
    return kinds[::-1]


def convert_dat(path: Path) -> dict[str, torch.Tensor]:
    """State dict of `FaceCodeNet` from dlib's .dat (the timm checkpoint_filter_fn of this model)."""
    layers = read_network(path)
    if [layer.kind for layer in layers] != _dlib_layer_kinds():
        raise ValueError(f"{path} does not hold dlib's face code ResNet (anet_type)")
    from_input = layers[::-1]
    input_layer = from_input[0]
    if (input_layer.attrs["nr"], input_layer.attrs["nc"]) != (CHIP_SIZE, CHIP_SIZE):
        raise ValueError(f"{path} takes {input_layer.attrs['nr']}x{input_layer.attrs['nc']} chips")
    pools = [(layer.kind, layer.attrs) for layer in from_input if layer.kind.endswith("pool")]
    expected_pools = [("max_pool", _pool_attrs(3, 2))] + [("avg_pool", _pool_attrs(2, 2))] * 4
    expected_pools.append(("avg_pool", _pool_attrs(0, 1)))
    if pools != expected_pools:
        raise ValueError(f"{path} pools {pools} are not dlib's anet_type's")

    model = FaceCodeNet()
    convs = [(name, module) for name, module in model.named_modules() if isinstance(module, nn.Conv2d)]
    cons = [layer for layer in from_input if layer.kind == "con"]
    affines = [layer for layer in from_input if layer.kind == "affine"]
    if not all(affine.attrs["mode"] == "conv" for affine in affines):
        raise ValueError(f"{path} has per-element affine layers where per-channel ones belong")
    state_dict = {"mean_rgb": torch.tensor(input_layer.attrs["mean_rgb"], dtype=torch.float32)}
    for (name, conv), con, affine in zip(convs, cons, affines, strict=True):
        weight, bias = folded_conv(con, affine, tuple(conv.weight.shape), conv.stride, conv.padding)
        state_dict[f"{name}.weight"] = torch.from_numpy(weight)
        state_dict[f"{name}.bias"] = torch.from_numpy(bias)
    state_dict["fc.weight"] = torch.from_numpy(from_input[-2].params["weight"])
    return state_dict


def _pool_attrs(size: int, stride: int) -> dict[str, int]:
    return {"nr": size, "nc": size, "stride_y": stride, "stride_x": stride, "padding_y": 0, "padding_x": 0}


class FaceCoder:
    """Face codes of aligned chips, InsightFace model_zoo style: `prepare(device)`, then `get`/`get_batch`."""

    def __init__(self):
        self.net = load_weights(FaceCodeNet(), "facecode").eval()
        self.input_size = (CHIP_SIZE, CHIP_SIZE)
        self.prepare("cpu")

    def prepare(self, device: str = "cpu") -> None:
        self.device = torch.device(device)
        self.net = self.net.to(self.device)

    def get_batch(self, chips: np.ndarray) -> np.ndarray:
        """(N, 150, 150, 3) uint8 RGB chips -> (N, 128) float32 codes."""
        if (
            not isinstance(chips, np.ndarray)
            or chips.dtype != np.uint8
            or chips.shape[1:] != (*self.input_size, 3)
        ):
            raise ValueError(f"chips must be a uint8 array of shape (N, {CHIP_SIZE}, {CHIP_SIZE}, 3)")
        if len(chips) == 0:
            return np.zeros((0, CODE_SIZE), dtype=np.float32)
        with torch.inference_mode():
            # uint8 crosses to the device (4x less than float); NCHW measured faster than channels_last on CPU
            pixels = torch.from_numpy(np.require(chips, requirements=("C", "W"))).to(self.device)
            return self.net(pixels.permute(0, 3, 1, 2).float().contiguous()).cpu().numpy()

    def get(self, img: np.ndarray, face: Face) -> np.ndarray:
        """Fill `face.code` from `face.chip` (`img` is unused: the chip is already cut from it)."""
        if face.chip is None:
            raise ValueError("face has no chip: align it before coding it")
        face.code = self.get_batch(face.chip[np.newaxis])[0]
        return face.code
