"""Reader for dlib's binary serialization (the .dat model files) into Python and numpy values.

Two levels:

- `DlibReader` reads dlib's serialization primitives (dlib/serialize.h): integers, floats, bools, strings,
  std::vector, dlib::matrix and the DNN tensors. Non-DNN models (the shape predictors) are read with it
  field by field, in the order their C++ `deserialize` reads them.
- `read_network(path)` reads a whole DNN (dlib/dnn/core.h) into a list of `Layer` records, in dlib's
  `layer<i>` order: the loss first, the input layer last. Model modules build their torch network from it.

What the file does not say: dlib writes `add_tag_layer` and `add_skip_layer` the same way (a version number
and the subnetwork, no id), and `add_prev_` without its tag id, so the wiring of residual connections is not
in the file. Those records come out as kind "tag_or_skip" / "add_prev"; the model module matches them against
the network template it implements. `repeat<>` networks cannot be told apart from nested tags in the byte
stream and are not supported (neither of the face_recognition_models networks uses one).

Parameter arrays are float32 in torch layout: con weight (out, in, kh, kw), fc weight (out, in).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

__all__ = ["DlibFormatError", "DlibReader", "Layer", "affine_from_bn", "folded_conv", "read_network"]

T = TypeVar("T")

# float_details exponents that stand for special values (dlib/float_details.h)
_EXPONENT_INF, _EXPONENT_NEG_INF, _EXPONENT_NAN = 32000, 32001, 32002
# Below this many values a Python loop beats the vectorised float decoder.
_VECTORISED_FLOATS_MIN = 48


class DlibFormatError(ValueError):
    """The bytes are not the dlib serialization this reader expects (corrupt, truncated or unsupported)."""


class DlibReader:
    """Sequential reader of dlib's serialization primitives over an in-memory buffer."""

    def __init__(self, data: bytes, name: str = "<bytes>"):
        self.data = data
        self.name = name
        self.pos = 0
        self._array = np.frombuffer(data, dtype=np.uint8)

    @classmethod
    def from_file(cls, path: str | Path) -> DlibReader:
        return cls(Path(path).read_bytes(), str(path))

    @property
    def at_end(self) -> bool:
        return self.pos >= len(self.data)

    def error(self, message: str) -> DlibFormatError:
        return DlibFormatError(f"{self.name}, byte {self.pos}: {message}")

    def _take(self, count: int) -> bytes:
        if count < 0 or self.pos + count > len(self.data):
            raise self.error(f"truncated: wanted {count} bytes, {len(self.data) - self.pos} left")
        chunk = self.data[self.pos : self.pos + count]
        self.pos += count
        return chunk

    # -- serialize.h primitives ------------------------------------------------------------------------

    def read_int(self) -> int:
        """An integral value: a control byte (bit 7 = negative, low 4 bits = byte count), then the
        magnitude in little-endian bytes."""
        data, pos = self.data, self.pos
        if pos >= len(data):
            raise self.error("truncated: wanted an integer, no bytes left")
        control = data[pos]
        size = control & 0x0F
        if control & 0x70 or size > 8:
            raise self.error(f"bad integer control byte 0x{control:02x}")
        end = pos + 1 + size
        if end > len(data):
            raise self.error(f"truncated: integer of {size} bytes, {len(data) - pos - 1} left")
        self.pos = end
        magnitude = int.from_bytes(data[pos + 1 : end], "little")
        return -magnitude if control & 0x80 else magnitude

    def read_uint(self) -> int:
        value = self.read_int()
        if value < 0:
            raise self.error(f"expected an unsigned integer, found {value}")
        return value

    def read_byte(self) -> int:
        """A char / unsigned char / uint8_t, written as the raw byte."""
        return self._take(1)[0]

    def read_bool(self) -> bool:
        """A bool, written as the ASCII character '1' or '0'."""
        char = self._take(1)
        if char not in (b"0", b"1"):
            self.pos -= 1
            raise self.error(f"bad bool byte {char!r}")
        return char == b"1"

    def read_float(self) -> float:
        """A float/double as dlib's float_details: the integer mantissa, then the integer exponent, the
        value being mantissa * 2**exponent."""
        if self.pos < len(self.data) and self.data[self.pos] & 0x70:
            raise self.error("float in dlib's pre-2013 text format, not supported")
        mantissa = self.read_int()
        exponent = self.read_int()
        if exponent < _EXPONENT_INF:
            return math.ldexp(mantissa, exponent)
        return {_EXPONENT_INF: math.inf, _EXPONENT_NEG_INF: -math.inf}.get(exponent, math.nan)

    def read_floats(self, count: int) -> np.ndarray:
        """`count` consecutive floats as float64; vectorised, since model files hold millions of them."""
        if count < _VECTORISED_FLOATS_MIN:
            return np.array([self.read_float() for _ in range(count)], dtype=np.float64)
        return self._read_floats_vectorised(count)

    def read_string(self) -> str:
        return self._take(self.read_uint()).decode("latin-1")

    def read_vector(self, read_item: Callable[[], T]) -> list[T]:
        """A std::vector: its size, then each element."""
        return [read_item() for _ in range(self.read_uint())]

    def read_matrix(self) -> np.ndarray:
        """A dlib::matrix of floats (float or double), as a float64 (nr, nc) array."""
        nr, nc = self.read_int(), self.read_int()
        if nr < 0 or nc < 0:
            nr, nc = -nr, -nc
        else:  # the format older dlib wrote: columns first
            nr, nc = nc, nr
        return self.read_floats(nr * nc).reshape(nr, nc)

    # -- dnn/tensor.h ------------------------------------------------------------------------------------

    def read_tensor(self) -> np.ndarray:
        """A resizable_tensor: version, then num_samples, k, nr, nc, then the values (version 1: dlib
        floats; version 2: little-endian IEEE float32)."""
        version = self.read_int()
        if version not in (1, 2):
            raise self.error(f"unknown tensor version {version}")
        shape = tuple(self.read_uint() for _ in range(4))
        count = int(np.prod(shape))
        if version == 1:
            values = self.read_floats(count).astype(np.float32)
        else:
            values = np.frombuffer(self._take(4 * count), dtype="<f4").astype(np.float32)
        return values.reshape(shape)

    def read_alias_tensor(self) -> tuple[int, int, int, int]:
        """An alias_tensor: version 1, then its shape (num_samples, k, nr, nc)."""
        version = self.read_int()
        if version != 1:
            raise self.error(f"unknown alias_tensor version {version}")
        num_samples, k, nr, nc = (self.read_uint() for _ in range(4))
        return num_samples, k, nr, nc

    # -- helpers -----------------------------------------------------------------------------------------

    def peek_name(self) -> str | None:
        """The layer/version name string at the current position, or None if the bytes there are not one
        (a name is at least 4 identifier characters; what else follows a version number is a small int)."""
        start = self.pos
        try:
            length = self.read_uint()
            if not 4 <= length <= 64 or self.pos + length > len(self.data):
                return None
            text = self.data[self.pos : self.pos + length]
        except DlibFormatError:
            return None
        finally:
            self.pos = start
        if not text[:1].isalpha() or not all(chr(b).isalnum() or b in b"_<>" for b in text):
            return None
        return text.decode("ascii")

    def expect_name(self, *names: str) -> str:
        name = self.read_string()
        if name not in names:
            raise self.error(f"expected {' or '.join(names)}, found {name!r}")
        return name

    def _read_floats_vectorised(self, count: int) -> np.ndarray:
        # Each float is two variable-length integers, so where one starts depends on every one before it.
        # Follow the chain with pointer doubling: from "next float after position i" build "2**j floats
        # after i" and collect the first count start positions in log2(count) numpy steps.
        start = self.pos
        region = self._array[start : start + 12 * count]  # a float takes at most 9 + 3 bytes
        length = len(region)
        padded = np.concatenate([region, np.zeros(12, np.uint8)])
        after_int = np.minimum(np.arange(length + 1) + 1 + (padded[: length + 1] & 0x0F), length)
        after_float = after_int[after_int]
        starts = np.zeros(1, dtype=np.int64)
        jump = after_float
        while len(starts) < count:
            starts = np.concatenate([starts, jump[starts]])
            jump = jump[jump]
        starts = starts[:count]
        mantissa = self._decode_ints(padded, starts, 8)
        exponent_starts = after_int[starts]
        exponent = self._decode_ints(padded, exponent_starts, 2)
        last = int(exponent_starts[-1])
        end = last + 1 + int(padded[last] & 0x0F)  # after_int is clamped, so recompute the true end
        if last >= length or end > length:
            raise self.error(f"truncated: fewer than {count} floats left")
        self.pos = start + end
        finite_exponent = np.minimum(exponent, _EXPONENT_INF - 1).astype(np.int32)
        values = np.ldexp(mantissa.astype(np.float64), finite_exponent)
        values[exponent == _EXPONENT_INF] = np.inf
        values[exponent == _EXPONENT_NEG_INF] = -np.inf
        values[exponent >= _EXPONENT_NAN] = np.nan
        return values

    def _decode_ints(self, padded: np.ndarray, starts: np.ndarray, max_size: int) -> np.ndarray:
        control = padded[starts]
        size = control & 0x0F
        if np.any(control & 0x70) or np.any(size > max_size):
            bad = int(starts[np.argmax(((control & 0x70) != 0) | (size > max_size))])
            raise DlibFormatError(f"{self.name}, byte {self.pos + bad}: bad integer control byte in a float")
        magnitude = np.zeros(len(starts), dtype=np.uint64)
        for byte in range(max_size):
            present = size > byte
            magnitude[present] |= padded[starts[present] + 1 + byte].astype(np.uint64) << np.uint64(8 * byte)
        value = magnitude.astype(np.int64)
        return np.where(control & 0x80, -value, value)


# ---------------------------------------------------------------------------------------------------------
# DNN networks


@dataclass
class Layer:
    """One layer of a dlib network: what it is, its hyper-parameters and its float32 parameters."""

    kind: str  # e.g. "con", "fc", "affine", "relu", "tag_or_skip", "input_rgb_image_sized", "loss_metric"
    attrs: dict[str, Any] = field(default_factory=dict)
    params: dict[str, np.ndarray] = field(default_factory=dict)


def read_network(path: str | Path) -> list[Layer]:
    """Every layer of the dlib DNN stored at `path`, from the loss (index 0) to the input layer (last)."""
    reader = DlibReader.from_file(path)
    version = reader.read_int()  # add_loss_layer: version 1, the loss details, the subnetwork
    if version != 1:
        raise reader.error(f"unknown add_loss_layer version {version}")
    layers = [_read_loss(reader), *_read_subnetwork(reader)]
    if not reader.at_end:
        raise reader.error(f"{len(reader.data) - reader.pos} unexpected bytes after the network")
    return layers


def affine_from_bn(bn: Layer) -> Layer:
    """The affine layer dlib builds when it loads a bn_ layer into an affine_, in float32 as dlib does."""
    eps = np.float32(bn.attrs["eps"])
    gamma = bn.params["gamma"] / np.sqrt(bn.params["running_variance"] + eps)
    beta = bn.params["beta"] - gamma * bn.params["running_mean"]
    return Layer("affine", {"mode": bn.attrs["mode"]}, {"gamma": gamma, "beta": beta})


def _read_subnetwork(reader: DlibReader) -> list[Layer]:
    # core.h writes every wrapper as: its version, its subnetwork, then (add_layer only) its details and
    # state. So the versions of the whole chain come first, then the input layer, then the layer details
    # from the innermost outward.
    wrapper_versions: list[int] = []
    while True:
        version = reader.read_int()
        name = reader.peek_name()
        if name is not None:
            break
        wrapper_versions.append(version)
    if not name.startswith("input"):
        raise reader.error(f"expected an input layer, found {name!r}")
    input_layer = _read_input(reader)
    innermost = _read_layer_over_input(reader, version)
    layers = [innermost, input_layer]
    for version in reversed(wrapper_versions):
        if version == 1:
            layers.insert(0, Layer("tag_or_skip"))
        elif version == 2:
            layers.insert(0, _read_layer_details(reader))
            _skip_layer_state(reader, params_grad=True)
        else:
            raise reader.error(f"unknown add_layer version {version}")
    return layers


def _read_layer_over_input(reader: DlibReader, version: int) -> Layer:
    if reader.peek_name() is None:  # add_tag_layer over the input: cached tensors follow, no details
        if version not in (1, 2):
            raise reader.error(f"unknown add_tag_layer version {version}")
        reader.read_tensor()  # cached_output
        reader.read_tensor()  # grad_final
        reader.read_bool()  # gradient_input_is_stale
        if version == 2:
            reader.read_uint()  # sample_expansion_factor
        return Layer("tag_or_skip")
    if version not in (2, 3):
        raise reader.error(f"unknown add_layer version {version} over an input layer")
    layer = _read_layer_details(reader)
    _skip_layer_state(reader, params_grad=False)
    reader.read_tensor()  # grad_final
    if version == 3:
        reader.read_uint()  # sample_expansion_factor
    return layer


def _skip_layer_state(reader: DlibReader, params_grad: bool) -> None:
    for _ in range(3):  # this_layer_setup_called, gradient_input_is_stale, get_output_..._disabled
        reader.read_bool()
    reader.read_tensor()  # x_grad
    reader.read_tensor()  # cached_output
    if params_grad:
        reader.read_tensor()


def _read_input(reader: DlibReader) -> Layer:
    name = reader.expect_name("input_rgb_image_sized", "input_rgb_image_pyramid", "input_rgb_image_pyramid2")
    mean = tuple(reader.read_float() for _ in range(3))  # avg_red, avg_green, avg_blue
    if name == "input_rgb_image_sized":
        nr, nc = reader.read_uint(), reader.read_uint()
        return Layer("input_rgb_image_sized", {"mean_rgb": mean, "nr": nr, "nc": nc})
    if name == "input_rgb_image_pyramid2":
        padding, outer_padding = reader.read_uint(), reader.read_uint()
    else:  # what dlib assumes for files written before the padding was configurable
        padding, outer_padding = 10, 11
    return Layer(
        "input_rgb_image_pyramid",
        {"mean_rgb": mean, "pyramid_padding": padding, "pyramid_outer_padding": outer_padding},
    )


def _read_loss(reader: DlibReader) -> Layer:
    name = reader.expect_name("loss_metric_2", "loss_mmod_")
    if name == "loss_metric_2":
        margin, distance_threshold = reader.read_float(), reader.read_float()
        return Layer("loss_metric", {"margin": margin, "distance_threshold": distance_threshold})
    return Layer("loss_mmod", _read_mmod_options(reader))


def _read_mmod_options(reader: DlibReader) -> dict[str, Any]:
    version = reader.read_int()
    if not 1 <= version <= 4:
        raise reader.error(f"unknown mmod_options version {version}")
    if version == 1:
        windows = [{"width": reader.read_uint(), "height": reader.read_uint(), "label": ""}]
    else:
        windows = reader.read_vector(lambda: _read_detector_window(reader))
    options: dict[str, Any] = {
        "detector_windows": windows,
        "loss_per_false_alarm": reader.read_float(),
        "loss_per_missed_target": reader.read_float(),
        "truth_match_iou_threshold": reader.read_float(),
        "overlaps_nms": _read_box_overlap(reader),
        "overlaps_ignore": _read_box_overlap(reader),
        "assume_image_pyramid": True,
        "use_bounding_box_regression": False,
        "bbr_lambda": 100.0,
    }
    if version >= 3:
        options["assume_image_pyramid"] = reader.read_byte() == 1
    if version >= 4:
        options["use_bounding_box_regression"] = reader.read_bool()
        options["bbr_lambda"] = reader.read_float()
    return options


def _read_detector_window(reader: DlibReader) -> dict[str, Any]:
    version = reader.read_int()
    if version not in (1, 2):
        raise reader.error(f"unknown detector_window_details version {version}")
    window = {"width": reader.read_uint(), "height": reader.read_uint(), "label": ""}
    if version == 2:
        window["label"] = reader.read_string()
    return window


def _read_box_overlap(reader: DlibReader) -> dict[str, float]:
    """A test_box_overlap: two boxes overlap if IoU > iou_thresh or either is covered more than
    percent_covered_thresh by the other."""
    return {"iou_thresh": reader.read_float(), "percent_covered_thresh": reader.read_float()}


def _read_layer_details(reader: DlibReader) -> Layer:
    name = reader.read_string()
    read = _DETAIL_READERS.get(name)
    if read is None:
        raise reader.error(f"unsupported dlib layer {name!r}")
    return read(reader)


def _read_learning_rate_multipliers(reader: DlibReader, count: int) -> None:
    for _ in range(count):
        reader.read_float()


def _read_con(reader: DlibReader) -> Layer:
    params = reader.read_tensor().reshape(-1)
    attrs = {
        "num_filters": reader.read_int(),
        "nr": reader.read_int(),
        "nc": reader.read_int(),
        "stride_y": reader.read_int(),
        "stride_x": reader.read_int(),
        "padding_y": reader.read_int(),
        "padding_x": reader.read_int(),
    }
    filters = reader.read_alias_tensor()
    biases = reader.read_alias_tensor()
    _read_learning_rate_multipliers(reader, 4)
    weight_size = int(np.prod(filters))
    if weight_size + int(np.prod(biases)) != params.size:
        raise reader.error(f"con_ params hold {params.size} values, filters {filters} + biases {biases}")
    return Layer(
        "con",
        attrs,
        {"weight": params[:weight_size].reshape(filters), "bias": params[weight_size:].copy()},
    )


def _read_fc(reader: DlibReader) -> Layer:
    num_outputs, num_inputs = reader.read_uint(), reader.read_uint()
    params = reader.read_tensor().reshape(-1)
    reader.read_alias_tensor()  # weights: (num_inputs, num_outputs)
    reader.read_alias_tensor()  # biases
    has_bias = reader.read_int() == 0  # fc_bias_mode: FC_HAS_BIAS = 0, FC_NO_BIAS = 1
    _read_learning_rate_multipliers(reader, 4)
    expected = (num_inputs + has_bias) * num_outputs
    if params.size != expected:
        raise reader.error(f"fc_ params hold {params.size} values, expected {expected}")
    matrix = params.reshape(num_inputs + has_bias, num_outputs)  # dlib computes x @ matrix
    layer_params = {"weight": np.ascontiguousarray(matrix[:num_inputs].T)}
    if has_bias:
        layer_params["bias"] = matrix[num_inputs].copy()
    return Layer("fc", {"num_outputs": num_outputs, "num_inputs": num_inputs, "bias": has_bias}, layer_params)


def _mode_name(mode: int) -> str:
    return {0: "conv", 1: "fc"}[mode]  # dlib's layer_mode: CONV_MODE = 0, FC_MODE = 1


def _split_gamma_beta(reader: DlibReader, params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    gamma_shape = reader.read_alias_tensor()
    beta_shape = reader.read_alias_tensor()
    gamma_size = int(np.prod(gamma_shape))
    if gamma_size + int(np.prod(beta_shape)) != params.size:
        raise reader.error(f"params hold {params.size} values, gamma {gamma_shape} + beta {beta_shape}")
    return params[:gamma_size].reshape(_per_sample_shape(gamma_shape)), params[gamma_size:].reshape(
        _per_sample_shape(beta_shape)
    )


def _per_sample_shape(alias_shape: tuple[int, int, int, int]) -> tuple[int, ...]:
    """(k,) for a per-channel alias (1, k, 1, 1), (k, nr, nc) for a per-element one."""
    _, k, nr, nc = alias_shape
    return (k,) if (nr, nc) == (1, 1) else (k, nr, nc)


def _read_affine(reader: DlibReader) -> Layer:
    params = reader.read_tensor().reshape(-1)
    gamma, beta = _split_gamma_beta(reader, params)
    return Layer("affine", {"mode": _mode_name(reader.read_int())}, {"gamma": gamma, "beta": beta})


def _read_bn(mode: str) -> Callable[[DlibReader], Layer]:
    def read(reader: DlibReader) -> Layer:
        params = reader.read_tensor().reshape(-1)
        gamma, beta = _split_gamma_beta(reader, params)
        reader.read_tensor()  # means of the last training batch
        reader.read_tensor()  # invstds of the last training batch
        running_mean = reader.read_tensor().reshape(gamma.shape)
        running_variance = reader.read_tensor().reshape(gamma.shape)
        reader.read_uint()  # num_updates
        reader.read_uint()  # running_stats_window_size
        _read_learning_rate_multipliers(reader, 4)
        eps = reader.read_float()
        return Layer(
            {"conv": "bn_con", "fc": "bn_fc"}[mode],
            {"mode": mode, "eps": eps},
            {
                "gamma": gamma,
                "beta": beta,
                "running_mean": running_mean,
                "running_variance": running_variance,
            },
        )

    return read


def _read_pool(kind: str) -> Callable[[DlibReader], Layer]:
    def read(reader: DlibReader) -> Layer:
        names = ("nr", "nc", "stride_y", "stride_x", "padding_y", "padding_x")
        attrs = {name: reader.read_int() for name in names}  # nr = nc = 0: pool over the whole image
        return Layer(kind, attrs)

    return read


_DETAIL_READERS: dict[str, Callable[[DlibReader], Layer]] = {
    "con_4": _read_con,
    "fc_2": _read_fc,
    "affine_": _read_affine,
    "bn_con2": _read_bn("conv"),
    "bn_fc2": _read_bn("fc"),
    "max_pool_2": _read_pool("max_pool"),
    "avg_pool_2": _read_pool("avg_pool"),
    "relu_": lambda reader: Layer("relu"),
    "add_prev_": lambda reader: Layer("add_prev"),
}


def folded_conv(
    con: Layer,
    affine: Layer | None,
    shape: tuple[int, ...],
    stride: tuple[int, int],
    padding: tuple[int, int],
) -> tuple[np.ndarray, np.ndarray]:
    """Weight and bias of a con_ layer with the per-channel affine_ after it folded in: exact up to rounding.

    `shape`, `stride` and `padding` are the torch conv's, checked against the file so that a layout slip
    fails loudly.
    """
    attrs = con.attrs
    found = (
        con.params["weight"].shape,
        (attrs["stride_y"], attrs["stride_x"]),
        (attrs["padding_y"], attrs["padding_x"]),
    )
    if found != (tuple(shape), tuple(stride), tuple(padding)):
        raise ValueError(f"dlib con layer {found} does not fit the torch conv {(shape, stride, padding)}")
    if affine is None:
        return con.params["weight"], con.params["bias"]
    if affine.attrs["mode"] != "conv":
        raise ValueError("a per-element affine layer where a per-channel one belongs")
    gamma = affine.params["gamma"].astype(np.float64)
    weight = con.params["weight"] * gamma[:, None, None, None]
    bias = con.params["bias"] * gamma + affine.params["beta"]
    return weight.astype(np.float32), bias.astype(np.float32)
