"""Face parser network and wrapper: shapes, batching, determinism, BN folding and crop geometry.

The network here is randomly initialised: these tests check plumbing (shapes, batch equals single, mapping
back to the image); `test_parser_accuracy.py` checks what the committed weights say about real faces.
"""

import numpy as np
import pytest
import torch

from recognition.images import read_rgb
from recognition.models.parser import (
    CLASSES,
    CROP_MARGIN,
    CROP_SIZE,
    FaceParser,
    Parsing,
    create_parser,
    crop_transform,
    fold_batchnorm,
)
from recognition.training.datasets import face_crop
from recognition.types import Face
from tests.facedata import FACEDATA

PHOTO = FACEDATA / "parsing" / "train" / "images" / "fasseg_frontal02_train_001.jpg"
BOX = (-14.0, 110.0, 326.0, 451.0)  # our detector's box on PHOTO


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    if not PHOTO.is_file():
        pytest.skip(f"shared face data not found at {PHOTO} (set FACEGATE_FACEDATA)")
    return read_rgb(PHOTO)


@pytest.fixture(scope="module")
def parser(tmp_path_factory) -> FaceParser:
    torch.manual_seed(0)
    net = create_parser()
    with torch.no_grad():  # non-trivial BN statistics, so folding has something to fold
        for module in net.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
    weights = tmp_path_factory.mktemp("parser") / "parser.pt"
    torch.save(
        {
            key: value.half() if value.is_floating_point() else value
            for key, value in net.state_dict().items()
        },
        weights,
    )
    return FaceParser(weights)


@pytest.mark.parametrize("name", ["parser_small", "parser_tiny", "parser_plain"])
def test_network_maps_crops_to_class_logits_of_the_same_size(name):
    net = create_parser(name).eval()
    with torch.inference_mode():
        logits = net(torch.full((2, 3, CROP_SIZE, CROP_SIZE), 128.0))
    assert logits.shape == (2, len(CLASSES), CROP_SIZE, CROP_SIZE)
    assert torch.isfinite(logits).all()


def test_unknown_parser_name_is_a_clear_error():
    with pytest.raises(KeyError, match="parser_small"):
        create_parser("parser_huge")


def test_folding_batchnorm_keeps_the_output(photo):
    torch.manual_seed(1)
    net = create_parser().eval()
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
    crop, _ = face_crop(photo, None, BOX, CROP_SIZE, CROP_MARGIN)
    pixels = torch.from_numpy(crop).permute(2, 0, 1)[None].float()
    with torch.inference_mode():
        expected = net(pixels)
        folded = fold_batchnorm(net)(pixels)
    assert not any(isinstance(module, torch.nn.BatchNorm2d) for module in net.modules())
    torch.testing.assert_close(folded, expected, rtol=1e-4, atol=1e-4)


def test_crop_matches_the_training_crop(photo):
    expected, _ = face_crop(photo, None, BOX, CROP_SIZE, CROP_MARGIN)
    import cv2

    crop = cv2.warpAffine(photo, crop_transform(BOX), (CROP_SIZE, CROP_SIZE), flags=cv2.INTER_LINEAR)
    assert np.abs(crop.astype(int) - expected.astype(int)).max() <= 1


def test_missing_weights_raise_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="train_parser"):
        FaceParser(tmp_path / "parser.pt")


def test_get_fills_labels_in_crop_coordinates_and_maps_them_back(parser, photo):
    face = Face(box=BOX, score=1.0)
    parsing = parser.get(photo, face)
    assert face.parsing is parsing
    assert parsing.labels.shape == (CROP_SIZE, CROP_SIZE) and parsing.labels.dtype == np.uint8
    assert parsing.labels.max() < len(CLASSES)
    # the crop's centre pixel lands on the box centre in the image
    centre = parsing.crop_to_image @ np.array([(CROP_SIZE - 1) / 2, (CROP_SIZE - 1) / 2, 1.0])
    np.testing.assert_allclose(centre, [(BOX[0] + BOX[2]) / 2 - 0.5, (BOX[1] + BOX[3]) / 2 - 0.5], atol=1e-6)
    assert parsing.scores.shape == (CROP_SIZE, CROP_SIZE, len(CLASSES))
    np.testing.assert_array_equal(parsing.scores.argmax(axis=2), parsing.labels)
    in_image = parsing.to_image(photo.shape)
    assert in_image.shape == photo.shape[:2]
    # where no boundary is near, a pixel inside the box carries the label of its crop pixel
    x, y = 160, 280
    u, v = (crop_transform(BOX) @ np.array([x, y, 1.0])).round().astype(int)
    assert len(np.unique(parsing.labels[v - 1 : v + 2, u - 1 : u + 2])) == 1
    assert in_image[y, x] == parsing.labels[v, u]


def test_scores_place_a_boundary_between_crop_pixels_and_nothing_outside_the_crop():
    """Skin and hair scores that cross at crop column 3.2: on an image four times finer the boundary falls
    there; labels alone (a stored overlay) step at the crop pixels' edge, column 3.5."""
    crop, scale, offset = 8, 4.0, 10.0  # image x = 4 u + 10
    scores = np.zeros((crop, crop, len(CLASSES)), np.float32)
    scores[..., 1] = np.arange(crop)[None, :] - 3.2
    scores[..., 10] = -scores[..., 1]
    labels = scores.argmax(axis=2).astype(np.uint8)
    crop_to_image = np.array([[scale, 0.0, offset], [0.0, scale, offset]])
    shape = (60, 60, 3)

    smooth = Parsing(labels, crop_to_image, scores).to_image(shape)
    stepped = Parsing(labels, crop_to_image).to_image(shape)
    for row in (smooth[12:38], stepped[12:38]):
        assert set(np.unique(row[:, 12:22])) == {10} and set(np.unique(row[:, 25:38])) == {1}
    assert (smooth[12:38, 23] == 1).all()  # u = 3.25, past the crossing
    assert (stepped[12:38, 23] == 10).all()  # u = 3.25 rounds to hair's column 3
    for labels_on_image in (smooth, stepped):
        outside = np.ones(shape[:2], bool)
        outside[7:42, 7:42] = False  # the crop covers image x, y in [8, 40]
        assert (labels_on_image[outside] == 0).all()
        assert (labels_on_image[9:39, 9:39] != 0).all()


def test_batch_equals_one_by_one_and_is_deterministic(parser, photo):
    boxes = [BOX, (60.0, 150.0, 260.0, 350.0)]
    batch = parser.get_batch(photo, [Face(box=box, score=1.0) for box in boxes])
    singles = [parser.get(photo, Face(box=box, score=1.0)) for box in boxes]
    again = parser.get_batch(photo, [Face(box=box, score=1.0) for box in boxes])
    for together, alone, repeated in zip(batch, singles, again, strict=True):
        assert isinstance(together, Parsing)
        assert (together.labels != alone.labels).mean() < 1e-3  # batched BLAS may flip a near-tie
        np.testing.assert_array_equal(together.labels, repeated.labels)
    assert parser.get_batch(photo, []) == []


@pytest.mark.parametrize("bad", [np.zeros((8, 8), np.uint8), np.zeros((8, 8, 3), np.float32), "image.jpg"])
def test_bad_images_are_refused(parser, bad):
    with pytest.raises(ValueError, match="RGB uint8"):
        parser.get_batch(bad, [Face(box=BOX, score=1.0)])
