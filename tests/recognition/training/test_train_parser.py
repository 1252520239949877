"""Parser training: partial-label losses (by hand), augmentations, a short real run that resumes exactly."""

import math
import shutil

import numpy as np
import pytest
import torch

from recognition.images import read_rgb
from recognition.training.augment import (
    adjust_lighting,
    augment,
    blur,
    grayscale,
    jpeg_reencode,
    occlude,
    rotate_scale,
    sensor_noise,
)
from recognition.training.datasets import IGNORE, LEFT_EYE, MOUTH, NOT_A_PART, RIGHT_EYE, read_label
from recognition.training.losses import PartialLabelLoss, partial_cross_entropy, partial_dice
from recognition.training.train_parser import main
from tests.facedata import FACEDATA

TRAIN = FACEDATA / "parsing" / "train"
NAMES = [f"fasseg_frontal02_train_00{number}" for number in range(1, 5)]


@pytest.fixture(scope="module")
def pair() -> tuple[np.ndarray, np.ndarray]:
    if not (TRAIN / "images" / f"{NAMES[0]}.jpg").is_file():
        pytest.skip(f"FASSEG training images not found under {TRAIN} (set FACEGATE_FACEDATA)")
    return read_rgb(TRAIN / "images" / f"{NAMES[0]}.jpg"), read_label(TRAIN / "masks" / f"{NAMES[0]}.png")


def _pixels(*columns: list[float]) -> torch.Tensor:
    """(1, 11, 1, len(columns)) logits, one column of 11 class logits per pixel."""
    return torch.tensor(columns, dtype=torch.float64).T[None, :, None, :]


def test_cross_entropy_skips_ignored_pixels_and_reads_superclasses_as_the_sum_of_their_parts():
    uniform = [0.0] * 11
    logits = _pixels(uniform, uniform, uniform, uniform)
    target = torch.tensor([[[0, MOUTH, NOT_A_PART, IGNORE]]])
    # p = 1/11 each: -log(1/11) for background, -log(3/11) for each superclass, nothing for 255
    expected = (math.log(11) + 2 * math.log(11 / 3)) / 3
    assert partial_cross_entropy(logits, target).item() == pytest.approx(expected, rel=1e-12)


def test_cross_entropy_by_hand_on_uneven_logits():
    upper_lip_twice = [0.0] * 7 + [math.log(2)] + [0.0] * 3  # p7 = 2/12, every other class 1/12
    logits = _pixels(upper_lip_twice, upper_lip_twice)
    target = torch.tensor([[[7, 11]]])
    expected = (math.log(6) + math.log(3)) / 2  # -log(2/12), -log((2 + 1 + 1)/12)
    assert partial_cross_entropy(logits, target).item() == pytest.approx(expected, rel=1e-12)


def test_all_ignored_gives_zero_loss_with_a_gradient():
    logits = _pixels([0.0] * 11).requires_grad_()
    loss = PartialLabelLoss(dice_weight=1.0)(logits, torch.tensor([[[IGNORE]]]))
    loss.backward()
    assert loss.item() == 0.0 and logits.grad is not None


def test_dice_by_hand():
    uniform = [0.0] * 11
    # one skin pixel and one ignored: dice(skin) = (2/11 + 1) / (1/11 + 1 + 1) = 13/23, and skin is one of
    # NOT_A_PART's parts: dice(NOT_A_PART) = (6/11 + 1) / (3/11 + 1 + 1) = 17/25
    assert partial_dice(_pixels(uniform, uniform), torch.tensor([[[1, IGNORE]]])).item() == pytest.approx(
        1 - (13 / 23 + 17 / 25) / 2
    )
    # a superclass pixel judges only the superclass, p = 3/11: dice = 17/25
    assert partial_dice(_pixels(uniform), torch.tensor([[[MOUTH]]])).item() == pytest.approx(8 / 25)
    assert partial_dice(_pixels(uniform), torch.tensor([[[NOT_A_PART]]])).item() == pytest.approx(8 / 25)


def test_loss_adds_weighted_dice():
    logits = _pixels([0.0] * 11, [1.0] + [0.0] * 10)
    target = torch.tensor([[[1, 11]]])
    combined = PartialLabelLoss(dice_weight=0.5)(logits, target)
    expected = partial_cross_entropy(logits, target) + 0.5 * partial_dice(logits, target)
    assert combined.item() == pytest.approx(expected.item())


def test_flip_swaps_left_and_right_classes(pair):
    image, label = pair
    flipped_image, flipped = augment(image, label, np.random.default_rng(0), _only(flip=1.0))
    assert label[:, ::-1][flipped == 4].tolist() == [5] * int((flipped == 4).sum())
    assert (flipped == 4).sum() == (label == 5).sum() and (flipped == 5).sum() == (label == 4).sum()
    np.testing.assert_array_equal(flipped_image, image[:, ::-1])


def test_rotation_marks_what_came_from_outside_as_ignore(pair):
    image, label = pair
    rotated_image, rotated = rotate_scale(image, label, 45.0, 1.0)
    assert rotated[0, 0] == IGNORE and rotated[-1, -1] == IGNORE
    assert set(np.unique(rotated)) <= set(np.unique(label)) | {IGNORE}
    assert rotated_image.shape == image.shape and rotated_image[0, 0].any()  # reflected, not black
    _, same = rotate_scale(image, label, 0.0, 1.0)
    np.testing.assert_array_equal(same, label)


def test_photometric_steps_change_the_image_only(pair):
    image, _ = pair
    rng = np.random.default_rng(0)
    for changed in (blur(image, 1.0), sensor_noise(image, 5.0, rng), jpeg_reencode(image, 20)):
        assert changed.shape == image.shape and changed.dtype == np.uint8
        assert 0 < np.abs(changed.astype(int) - image).mean() < 10
    assert np.abs(adjust_lighting(image, 0.0, 1.0, 1.0).astype(int) - image).max() <= 1
    assert adjust_lighting(image, 30.0, 1.0, 1.0).mean() > image.mean() + 20
    gray = grayscale(image)
    assert (
        gray.shape == image.shape
        and (gray[..., 0] == gray[..., 1]).all()
        and (gray[..., 1] == gray[..., 2]).all()
    )
    assert abs(gray.mean() - image.mean()) < 10


def test_occluders_hide_the_parts_they_cover_as_no_face_part(pair):
    image, label = pair
    hidden = set()
    for seed in range(16):
        occluded_image, occluded = occlude(image, label, np.random.default_rng(seed))
        covered = occluded != label
        assert covered.any() and (occluded[covered] == NOT_A_PART).all()
        assert (occluded_image[~covered] == image[~covered]).all()
        # the parts it was drawn over are hidden whole, not sliced; a neighbour may lose an edge
        gone = {part for part in (LEFT_EYE, RIGHT_EYE, MOUTH) if not (occluded == part).any()}
        assert gone, f"seed {seed} hid no part whole"
        hidden |= gone
    assert hidden == {LEFT_EYE, RIGHT_EYE, MOUTH}


def test_augment_is_deterministic_given_a_seed(pair):
    image, label = pair
    first = augment(image, label, np.random.default_rng(7))
    again = augment(image, label, np.random.default_rng(7))
    other = augment(image, label, np.random.default_rng(8))
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], other[0])


def _only(**probabilities):
    from recognition.training.augment import Augmentation

    off = {
        "flip": 0.0,
        "blur": 0.0,
        "noise": 0.0,
        "jpeg": 0.0,
        "lighting": 0.0,
        "grayscale": 0.0,
        "occlusion": 0.0,
        "max_rotation_deg": 0.0,
    }
    return Augmentation(**{**off, "scale_range": (1.0, 1.0), **probabilities})


@pytest.fixture(scope="module")
def fasseg_subset(tmp_path_factory, pair):
    """The first 4 FASSEG training pairs, linked (not copied) into FASSEG's layout."""
    root = tmp_path_factory.mktemp("fasseg")
    for folder, suffix in (("images", ".jpg"), ("masks", ".png")):
        (root / "train" / folder).mkdir(parents=True)
        for name in NAMES:
            (root / "train" / folder / f"{name}{suffix}").symlink_to(TRAIN / folder / f"{name}{suffix}")
    return root


def _train(fasseg, out, *extra):
    arguments = ["--data", str(fasseg.parent), "--fasseg", str(fasseg), "--out", str(out)]
    return main([*arguments, "--steps", "5", "--batch-size", "2", "--checkpoint-every", "2", *extra])


def test_a_stopped_run_resumes_exactly(fasseg_subset, tmp_path):
    stopped = tmp_path / "stopped" / "parser.ckpt"
    assert math.isfinite(_train(fasseg_subset, stopped, "--stop-at", "3"))
    state = torch.load(stopped, weights_only=True)
    assert state["step"] == 3
    assert not stopped.with_name("parser-fp16.pt").exists()

    assert math.isfinite(_train(fasseg_subset, stopped, "--resume"))
    assert torch.load(stopped, weights_only=True)["step"] == 5

    straight = tmp_path / "straight" / "parser.ckpt"
    straight.parent.mkdir()
    shutil.copy(stopped.with_suffix(".boxes.json"), straight.with_suffix(".boxes.json"))  # skip re-detecting
    _train(fasseg_subset, straight)
    resumed = torch.load(stopped.with_name("parser-fp16.pt"), weights_only=True)
    uninterrupted = torch.load(straight.with_name("parser-fp16.pt"), weights_only=True)
    assert resumed.keys() == uninterrupted.keys()
    assert resumed["head.weight"].dtype == torch.float16
    for key in resumed:
        assert torch.equal(resumed[key], uninterrupted[key]), key
    full = torch.load(stopped, weights_only=True)["model"]
    assert not torch.equal(full["head.weight"], state["model"]["head.weight"])  # the resumed steps trained


def test_resume_with_other_arguments_is_refused(fasseg_subset, tmp_path):
    out = tmp_path / "parser.ckpt"
    _train(fasseg_subset, out, "--stop-at", "1")
    with pytest.raises(SystemExit, match="same data and arguments"):
        main(["--data", str(fasseg_subset), "--fasseg", str(fasseg_subset), "--out", str(out), "--steps", "9",
              "--batch-size", "2", "--resume"])  # fmt: skip


def test_architecture_and_crop_size_are_chosen_and_bind_the_resumed_run(fasseg_subset, tmp_path):
    out = tmp_path / "plain.ckpt"
    _train(fasseg_subset, out, "--model", "parser_plain", "--crop-size", "64", "--stop-at", "1")
    state = torch.load(out, weights_only=True)
    assert (state["architecture"], state["crop_size"]) == ("parser_plain", 64)
    assert "encoder.0.first.conv.weight" in state["model"]  # parser_plain's full 3x3 first stage
    with pytest.raises(SystemExit, match="same data and arguments"):
        _train(fasseg_subset, out, "--model", "parser_plain", "--crop-size", "96", "--resume")
