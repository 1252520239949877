"""dlib's serialization read from bytes made as dlib/serialize.h writes them, and from the .dat files."""

import math
import struct
from collections import Counter

import numpy as np
import pytest

from recognition.models.dlib_format import DlibFormatError, DlibReader, affine_from_bn, read_network
from recognition.models.weights import dat_path


def dlib_int(value: int) -> bytes:
    """serialize.h's pack_int: a control byte (0x80 = negative, low bits = byte count), then the magnitude."""
    magnitude = abs(value)
    body = magnitude.to_bytes(max(1, (magnitude.bit_length() + 7) // 8), "little")
    return bytes([len(body) | (0x80 if value < 0 else 0)]) + body


def dlib_float(value: float) -> bytes:
    """float_details of a C++ float: 24-bit mantissa (low zero bytes shifted off), then the exponent."""
    if math.isinf(value):
        return dlib_int(0) + dlib_int(32000 if value > 0 else 32001)
    if math.isnan(value):
        return dlib_int(0) + dlib_int(32002)
    fraction, exponent = math.frexp(value)
    mantissa, exponent = int(fraction * (1 << 24)), exponent - 24
    for _ in range(8):
        if mantissa & 0xFF:
            break
        mantissa >>= 8
        exponent += 8
    return dlib_int(mantissa) + dlib_int(exponent)


def dlib_string(text: str) -> bytes:
    return dlib_int(len(text)) + text.encode()


@pytest.mark.parametrize("value", [0, 1, 2, 255, 256, 300, -5, -70000, 2**40 + 3, -(2**63 - 1)])
def test_integers_read_back(value):
    reader = DlibReader(dlib_int(value) + b"rest")
    assert reader.read_int() == value
    assert reader.data[reader.pos :] == b"rest"


def test_integer_written_by_dlib():
    # 300 = 0x012c: two bytes, little-endian; -5: sign bit in the control byte
    assert DlibReader(b"\x02\x2c\x01").read_int() == 300
    assert DlibReader(b"\x81\x05").read_int() == -5


@pytest.mark.parametrize("data", [b"", b"\x03\x01\x02", b"\x71\x00", b"\x09" + bytes(9)])
def test_bad_or_truncated_integers_raise(data):
    with pytest.raises(DlibFormatError):
        DlibReader(data).read_int()


def test_unsigned_rejects_negative():
    with pytest.raises(DlibFormatError, match="unsigned"):
        DlibReader(dlib_int(-1)).read_uint()


def test_float_bytes_of_the_face_code_loss_margin():
    # the bytes that follow "loss_metric_2" in dlib_face_recognition_resnet_model_v1.dat: 0.04f and 0.6f
    reader = DlibReader(b"\x03\x0a\xd7\xa3\x81\x1c\x03\x9a\x99\x99\x81\x18")
    assert np.float32(reader.read_float()) == np.float32(0.04)
    assert np.float32(reader.read_float()) == np.float32(0.6)
    assert reader.at_end


def test_floats_vectorised_match_one_by_one():
    values = np.float32(
        [0.0, 1.0, -1.0, 0.5, 1e-30, -3.4e38, 122.782, 117.001, math.inf, -math.inf, 1 / 3, -2.5e-7] * 20
    )
    data = b"".join(dlib_float(float(v)) for v in values) + b"tail"
    one_by_one = DlibReader(data)
    singles = [one_by_one.read_float() for _ in values]
    vectorised = DlibReader(data)
    together = vectorised.read_floats(len(values))
    np.testing.assert_array_equal(np.float32(singles), values)
    np.testing.assert_array_equal(together.astype(np.float32), values)
    assert vectorised.pos == one_by_one.pos == len(data) - 4


def test_nan_float():
    assert math.isnan(DlibReader(dlib_float(math.nan)).read_float())


def test_truncated_float_run_raises():
    data = b"".join(dlib_float(0.25 * i) for i in range(100))
    with pytest.raises(DlibFormatError, match="truncated"):
        DlibReader(data[:-1]).read_floats(100)


def test_string_bool_vector_matrix():
    data = (
        dlib_string("relu_")
        + b"10"
        + dlib_int(3)
        + dlib_int(7)
        + dlib_int(8)
        + dlib_int(9)
        + dlib_int(-2)  # matrix rows, negated by the current format
        + dlib_int(-3)
        + b"".join(dlib_float(v) for v in range(6))
    )
    reader = DlibReader(data)
    assert reader.read_string() == "relu_"
    assert reader.read_bool() is True
    assert reader.read_bool() is False
    assert reader.read_vector(reader.read_int) == [7, 8, 9]
    np.testing.assert_array_equal(reader.read_matrix(), np.arange(6.0).reshape(2, 3))
    assert reader.at_end


def test_tensor_versions():
    shape = [dlib_int(n) for n in (1, 2, 1, 2)]
    as_ieee = dlib_int(2) + b"".join(shape) + struct.pack("<4f", 1.5, -2.0, 0.25, 8.0)
    as_dlib_floats = dlib_int(1) + b"".join(shape) + b"".join(dlib_float(v) for v in (1.5, -2.0, 0.25, 8.0))
    for data in (as_ieee, as_dlib_floats):
        tensor = DlibReader(data).read_tensor()
        assert tensor.dtype == np.float32
        np.testing.assert_array_equal(tensor, np.float32([1.5, -2.0, 0.25, 8.0]).reshape(1, 2, 1, 2))


def test_face_code_network_structure():
    layers = read_network(dat_path("dlib_face_recognition_resnet_model_v1.dat"))
    kinds = Counter(layer.kind for layer in layers)
    assert kinds == {
        "con": 29, "affine": 29, "relu": 29, "tag_or_skip": 22, "add_prev": 14, "avg_pool": 5,
        "max_pool": 1, "fc": 1, "loss_metric": 1, "input_rgb_image_sized": 1,
    }  # fmt: skip
    loss, fc, input_layer = layers[0], layers[1], layers[-1]
    assert loss.attrs["margin"] == pytest.approx(0.04)
    assert fc.attrs == {"num_outputs": 128, "num_inputs": 256, "bias": False}
    assert fc.params["weight"].shape == (128, 256)
    assert input_layer.attrs["nr"] == input_layer.attrs["nc"] == 150
    assert input_layer.attrs["mean_rgb"] == pytest.approx((122.782, 117.001, 104.298))
    first_con = layers[-2]
    assert first_con.params["weight"].shape == (32, 3, 7, 7)
    assert (first_con.attrs["stride_y"], first_con.attrs["padding_y"]) == (2, 0)
    assert all(np.isfinite(p).all() for layer in layers for p in layer.params.values())


def test_detector_network_and_mmod_options():
    layers = read_network(dat_path("mmod_human_face_detector.dat"))
    assert [layer.kind for layer in layers[:4]] == ["loss_mmod", "con", "relu", "bn_con"]
    assert layers[-1].kind == "input_rgb_image_pyramid"
    options = layers[0].attrs
    assert options["detector_windows"] == [{"width": 80, "height": 80, "label": ""}]
    assert 0 < options["overlaps_nms"]["iou_thresh"] < 1
    bn = layers[3]
    affine = affine_from_bn(bn)
    expected = bn.params["gamma"][0] / np.sqrt(bn.params["running_variance"][0] + np.float32(bn.attrs["eps"]))
    assert affine.params["gamma"].dtype == np.float32
    assert affine.params["gamma"][0] == pytest.approx(expected)


@pytest.mark.parametrize(
    ("name", "points"),
    [("shape_predictor_5_face_landmarks.dat", 5), ("shape_predictor_68_face_landmarks.dat", 68)],
)
def test_shape_predictor_headers(name, points):
    # shape_predictor.h: version 1, initial_shape (matrix), forests (vector<vector<regression_tree>>), ...
    reader = DlibReader.from_file(dat_path(name))
    assert reader.read_int() == 1
    initial_shape = reader.read_matrix()
    assert initial_shape.shape == (2 * points, 1)
    assert abs(initial_shape.mean() - 0.5) < 0.1  # the mean shape, centred in the unit face box
    cascade_levels, trees_in_first_level = reader.read_uint(), reader.read_uint()
    splits = reader.read_vector(lambda: (reader.read_uint(), reader.read_uint(), reader.read_float()))
    leaves = reader.read_vector(reader.read_matrix)
    assert cascade_levels > 1 and trees_in_first_level > 1
    assert len(leaves) == len(splits) + 1  # a complete binary tree
    assert all(leaf.shape == (2 * points, 1) for leaf in leaves)
    assert all(a < 1000 and b < 1000 for a, b, _ in splits)  # indices into the feature pixels


def test_truncated_network_raises(tmp_path):
    data = dat_path("mmod_human_face_detector.dat").read_bytes()
    truncated = tmp_path / "truncated.dat"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(DlibFormatError):
        read_network(truncated)


def test_unknown_layer_is_named(tmp_path):
    data = dat_path("mmod_human_face_detector.dat").read_bytes()
    renamed = tmp_path / "renamed.dat"
    renamed.write_bytes(data.replace(b"con_4", b"cox_4", 1))
    with pytest.raises(DlibFormatError, match="cox_4"):
        read_network(renamed)
