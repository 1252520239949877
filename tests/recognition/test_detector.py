"""CPU tests of the torch MMOD face detector: pyramid layout, decoding, pyramid bounds and the wrapper."""

import math

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from recognition.models.detector import (
    Decoding,
    FaceDetector,
    MMODNet,
    TiledPyramid,
    build_tiled_pyramid,
    convert_dat,
    decode_detections,
    levels_for,
    pyramid_level_sizes,
    search_levels,
    tiled_pyramid,
)
from recognition.models.weights import dat_path
from tests.facedata import FACEDATA

# what mmod_human_face_detector.dat and the network's geometry give
DECODING = Decoding(
    stride=8, offset=14, context=94, window=(80.0, 80.0), nms_overlap=(0.3382761351109955, 1.0)
)


def photo(relative: str) -> np.ndarray:
    path = FACEDATA / relative
    if not path.is_file():
        pytest.skip(f"real face data is absent: no {path}")
    return np.asarray(Image.open(path).convert("RGB"))


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector()


def test_level_sizes_shrink_by_five_sixths_down_to_five_rows():
    sizes = pyramid_level_sizes(480, 640)
    assert sizes[:4] == [(480, 640), (400, 533), (333, 444), (277, 370)]
    assert sizes[-1][0] >= 5 and math.floor(sizes[-1][0] * 5 / 6) < 5


@pytest.mark.parametrize("shape", [(480, 640), (250, 250), (640, 458), (141, 140)])
def test_tiled_levels_keep_their_sizes_and_do_not_touch(shape):
    layout = tiled_pyramid(*shape, padding=10, outer_padding=11)
    sizes = pyramid_level_sizes(*shape)
    rects = np.array(layout.rects)
    assert [(rect[3] - rect[1] + 1, rect[2] - rect[0] + 1) for rect in rects.tolist()] == sizes[: len(rects)]
    assert len(rects) >= len(sizes) - 2  # only the tiniest levels may find no room
    assert rects[0, :2].tolist() == [11, 11] and layout.width == shape[1] + 22
    assert rects[:, :2].min() >= 11 and rects[:, 2].max() < layout.width - 11
    assert rects[:, 3].max() < layout.height - 11
    for i, a in enumerate(rects):
        for b in rects[i + 1 :]:
            assert max(b[0] - a[2], a[0] - b[2], b[1] - a[3], a[1] - b[3]) > 1  # apart, with a zero pixel


@pytest.mark.parametrize("levels", [(1, 99), (2, 9), (0, 3), (5, 5)])
def test_a_bounded_search_builds_what_the_searched_levels_see(levels):
    layout = tiled_pyramid(480, 640, padding=10, outer_padding=11)
    bounded = search_levels(layout, *levels, DECODING)
    first, last = bounded.levels
    searched = layout.rects[first : last + 1]
    margin = 40 + 94  # half a window, and what an output cell sees around its centre
    assert bounded.rects == layout.rects and (first, last) == (
        levels[0],
        min(levels[1], len(layout.rects) - 1),
    )
    assert bounded.rows[0] % 8 == 0 and bounded.rows[0] <= max(min(rect[1] for rect in searched) - margin, 0)
    assert bounded.rows[1] == layout.height or bounded.rows[1] > max(rect[3] for rect in searched) + margin
    assert bounded.rows[1] - bounded.rows[0] < layout.height
    assert search_levels(layout, 0, 99, DECODING) == layout


def test_decoding_maps_cells_through_their_level_and_suppresses_overlaps():
    rects = ((11, 11, 650, 490), (11, 501, 543, 900))
    layout = TiledPyramid(rects, height=912, width=662, levels=(0, 1), rows=(0, 912))
    scores = np.full((110, 80), -1.0, dtype=np.float32)
    scores[10, 10] = 0.9  # level 0: centre (94, 94) in the tiled image, (83, 83) in the image
    scores[10, 11] = 0.5  # next cell, 8 px right: overlaps the first, suppressed
    scores[70, 20] = 0.7  # level 1: tiled (174, 574), 80 px window -> 96 px box
    detections = decode_detections(scores, layout, DECODING)
    assert [score for _, score in detections] == pytest.approx([0.9, 0.7])
    (box0, _), (box1, _) = detections
    assert box0.tolist() == [44, 44, 123, 123]  # 83 -+ 39.5, rounded
    # level 1 holds the image at 5/6 size: the window centre (163, 73) there is (195.9, 87.9) in the image
    # and the 80 px window spans 79 * 1.2 pixel steps
    assert (box1[:2] + box1[2:]) / 2 == pytest.approx((195.9, 87.9), abs=1)
    assert box1[2] - box1[0] == pytest.approx(79 * 1.2, abs=1)


def test_nothing_above_the_threshold_decodes_to_no_faces():
    layout = tiled_pyramid(480, 640, 10, 11)
    assert decode_detections(np.full((220, 80), -0.5, np.float32), layout, DECODING) == []


@pytest.mark.parametrize("size", [60, 80, 96, 100, 120, 200, 400])
def test_levels_are_those_that_can_give_a_box_that_wide(size):
    def box_widths(level: int) -> tuple[float, float]:  # the narrowest and widest boxes a level gives
        return 79 * 1.2**level, 79 * 1.2**level + 2

    first, _ = levels_for(size, None)
    assert box_widths(first)[1] >= size and (first == 0 or box_widths(first - 1)[1] < size)
    _, last = levels_for(None, size)
    assert box_widths(last)[0] <= max(size, 80) < box_widths(last + 1)[0]
    assert levels_for(None, None)[0] == 0 and levels_for(None, None)[1] > 30


def test_conversion_fills_every_parameter_and_setting():
    state_dict = convert_dat(dat_path("mmod_human_face_detector.dat"))
    net = MMODNet()
    net.load_state_dict(state_dict, strict=True)
    assert net.window.tolist() == [80.0, 80.0]
    assert net.pyramid_padding.tolist() == [10, 11]
    assert net.decoding() == DECODING
    assert all(torch.isfinite(value).all() for value in state_dict.values())


def test_fast_convs_give_the_direct_convs_scores_on_real_photos(detector):
    """The FFT and shifted-tap convs stand in for the file's convs: same scores as nn.Conv2d runs them."""
    net = detector.net
    portrait = photo("identities/Barack_Obama/1.jpg")
    images = [portrait, portrait[:, ::-1]]  # a batch of two
    pixels = torch.from_numpy(np.stack(images)).float().permute(0, 3, 1, 2)
    layout = tiled_pyramid(*pixels.shape[-2:], *net.pyramid_padding.tolist())
    tiled = build_tiled_pyramid((pixels - net.mean_rgb.view(1, 3, 1, 1)) / 256.0, layout)
    with torch.inference_mode():
        direct = net.head(net.body(tiled))  # nn.Sequential runs every conv as torch's direct conv
        fast = net(tiled)
    assert any(isinstance(m, nn.Conv2d) and m.stride == (1, 1) for m in net.body)
    assert fast.shape == direct.shape and direct.amax() > 0.5  # the portrait's face scores
    assert (fast - direct).abs().max() < 1e-4


def test_finds_the_one_face_of_a_portrait(detector):
    (face,) = detector.detect(photo("identities/Barack_Obama/1.jpg"))
    assert face.score > 0.5 and face.width > 80
    assert face.box[0] >= -40 and face.box[1] >= -40


def test_face_size_bounds_keep_dlibs_faces_within_them(detector):
    image = photo("scenes/group_deepface_selfie-many-people.jpg")
    every = detector.detect(image)
    large = detector.detect(image, min_face_size=110)
    assert len(every) >= 3 and 0 < len(large) < len(every)
    assert all(face.width >= 108 for face in large)
    for face in every:
        if face.width >= 110:
            assert any(face.box == other.box and face.score == pytest.approx(other.score) for other in large)
    small = detector.detect(image, max_face_size=100)
    assert all(face.width <= 102 for face in small)
    assert {face.box for face in every if face.width <= 100} <= {face.box for face in small}


def test_batch_matches_single_images_of_mixed_sizes(detector):
    images = [photo("scenes/group_faceapi_bbt2.jpg"), photo("identities/Kit_Harington/1.jpg")]
    images.append(images[0][:, ::-1].copy())  # the same size as the first: batched with it
    batch = detector.detect_batch(images)
    for image, faces in zip(images, batch, strict=True):
        single = detector.detect(image)
        assert [f.box for f in faces] == [f.box for f in single]
        np.testing.assert_allclose([f.score for f in faces], [f.score for f in single], atol=1e-4)
    assert len(batch[0]) == len(batch[2]) >= 2


@pytest.mark.parametrize("size", [1, 5, 40])
def test_an_image_smaller_than_the_detector_window_has_no_face(detector, size):
    portrait = photo("identities/Barack_Obama/1.jpg")
    tiny = np.ascontiguousarray(
        portrait[:: max(1, portrait.shape[0] // size), :: max(1, portrait.shape[1] // size)]
    )
    assert detector.detect(tiny[:size, :size]) == []
    assert detector.detect(tiny[:size, :size], upsample=1) == []


@pytest.mark.parametrize(
    "bad",
    [np.zeros((64, 64), np.uint8), np.zeros((64, 64, 4), np.uint8), np.zeros((64, 64, 3)), "image.jpg"],
    ids=["grey", "rgba", "float", "path"],
)
def test_rejects_what_is_not_an_rgb_uint8_image(detector, bad):
    with pytest.raises(ValueError, match="images must be"):
        detector.detect(bad)
