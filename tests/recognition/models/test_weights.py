"""The one weights loader: finds the .dat, converts once, caches by the file's sha256, loads strictly."""

import hashlib

import pytest
import torch
from torch import nn

from recognition.models import facecode, weights
from recognition.models.facecode import FaceCodeNet


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FACEGATE_CACHE_DIR", str(tmp_path))
    return tmp_path


def test_dat_path_finds_the_package_files():
    path = weights.dat_path("dlib_face_recognition_resnet_model_v1.dat")
    assert path.is_file() and path.parent.name == "models"
    with pytest.raises(FileNotFoundError, match="no_such_model.dat"):
        weights.dat_path("no_such_model.dat")


def test_converts_once_then_reads_the_cache(cache, monkeypatch):
    source = weights.dat_path(weights.KINDS["facecode"].dat_name)
    first = weights.load_state_dict("facecode")
    (cached,) = cache.glob("facecode-*.pt")
    assert hashlib.sha256(source.read_bytes()).hexdigest() in cached.name

    def must_not_convert(path):
        raise AssertionError("converted again although the cache holds the weights")

    monkeypatch.setattr(facecode, "convert_dat", must_not_convert)
    second = weights.load_state_dict("facecode")
    assert first.keys() == second.keys()
    assert all(torch.equal(first[key], second[key]) for key in first)


def test_corrupt_cache_is_rebuilt(cache):
    expected = weights.load_state_dict("facecode")
    (cached,) = cache.glob("facecode-*.pt")
    cached.write_bytes(cached.read_bytes()[:1000])  # a half-written file from a killed process
    rebuilt = weights.load_state_dict("facecode")
    assert torch.equal(rebuilt["fc.weight"], expected["fc.weight"])
    assert torch.equal(torch.load(cached, weights_only=True)["stem.weight"], expected["stem.weight"])
    assert not list(cache.glob("*.tmp"))


def test_strict_loading_rejects_mismatched_keys(cache):
    with pytest.raises(RuntimeError, match="Missing key|Unexpected key"):
        weights.load_weights(nn.Sequential(nn.Linear(256, 128, bias=False)), "facecode")

    class WithExtraLayer(FaceCodeNet):
        def __init__(self):
            super().__init__()
            self.head = nn.Linear(128, 2)

    with pytest.raises(RuntimeError, match="head.weight"):
        weights.load_weights(WithExtraLayer(), "facecode")


def test_unknown_kind_names_the_known_ones():
    with pytest.raises(KeyError, match="facecode"):
        weights.load_state_dict("no-such-model")


def test_converter_refuses_another_network():
    with pytest.raises(ValueError, match="face code ResNet"):
        facecode.convert_dat(weights.dat_path("mmod_human_face_detector.dat"))


def test_unwritable_cache_still_loads(tmp_path, monkeypatch):
    blocked = tmp_path / "a-file-not-a-folder"
    blocked.write_text("")
    monkeypatch.setenv("FACEGATE_CACHE_DIR", str(blocked))
    assert weights.load_state_dict("facecode")["fc.weight"].shape == (128, 256)
