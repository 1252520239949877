"""The engine from pixels to faces with codes, on real photos: identities, group photos, no-face photos."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from recognition.config import EngineConfig
from recognition.images import read_rgb
from recognition.keypoints import ALIGNMENT_TEMPLATE
from recognition.models.landmarks import LandmarkPredictor
from recognition.pipeline import Engine, engine, resolve_device
from recognition.types import Face, Point
from tests.facedata import FACEDATA

SCENES = FACEDATA / "scenes"
PEOPLE = ("Abdoulaye_Wade", "Calista_Flockhart", "Kristen_Breitweiser", "Steve_Mariucci")
GROUPS = {  # photo: faces of 80 px and more in it
    "group_3ddfa_trump_hillary.jpg": 2,
    "group_deepface_selfie-many-people.jpg": 5,
    "group_face_recognition_two_people.jpg": 2,
}
NO_FACE = (  # with the hard negatives: dog faces, a cat, coins
    "noface_dlib_dogs.jpg",
    "noface_skimage_chelsea.png",
    "noface_skimage_coins.png",
    "noface_dlib_eagle.jpg",
    "noface_sklearn_china.jpg",
)

pytestmark = pytest.mark.skipif(
    not (FACEDATA / "identities").is_dir(), reason=f"real face data is absent: no {FACEDATA / 'identities'}"
)


def photos_of(person: str) -> list[Path]:
    return sorted((FACEDATA / "identities" / person).glob("*.jpg"), key=lambda photo: int(photo.stem))


@pytest.fixture(scope="module")
def cpu_engine() -> Engine:
    return Engine(EngineConfig(device="cpu", batch_size=4))


def test_each_identity_photo_gives_one_face_whose_nearest_other_photo_is_the_same_person(cpu_engine):
    photos = [photo for person in PEOPLE for photo in photos_of(person)[:2]]
    people = np.array([photo.parent.name for photo in photos])

    found = cpu_engine.analyse_batch([read_rgb(photo) for photo in photos])

    assert [len(faces) for faces in found] == [1] * len(photos)
    faces = [faces[0] for faces in found]
    for face in faces:
        assert set(ALIGNMENT_TEMPLATE) <= set(face.keypoints)  # aligned by the parsing keypoints
        assert face.parsing is not None and face.visibility.occlusions == ()
        assert face.chip.shape == (150, 150, 3) and face.chip.dtype == np.uint8
        assert face.code.shape == (128,) and face.code.dtype == np.float32 and np.isfinite(face.code).all()
        x1, y1, x2, y2 = face.box
        assert 0 <= x1 < x2 <= 250 and 0 <= y1 < y2 <= 250 and face.score > 0
    codes = np.stack([face.code for face in faces])
    distances = np.linalg.norm(codes[:, None] - codes[None], axis=2)
    np.fill_diagonal(distances, np.inf)
    assert (people[distances.argmin(axis=1)] == people).all(), np.round(distances, 2)
    same = people[:, None] == people[None]
    assert distances[same & np.isfinite(distances)].max() < distances[~same].min()


@pytest.mark.parametrize("name", sorted(GROUPS))
def test_a_group_photo_gives_every_face(cpu_engine, name):
    faces = cpu_engine.analyse(read_rgb(SCENES / name))

    assert len(faces) == GROUPS[name]
    assert all(face.code is not None and face.code.shape == (128,) for face in faces)
    codes = np.stack([face.code for face in faces])
    # different people: no two codes of one photo are near each other
    assert np.linalg.norm(codes[:, None] - codes[None], axis=2)[np.triu_indices(len(faces), 1)].min() > 0.4


def test_photos_without_a_human_face_give_none(cpu_engine):
    found = cpu_engine.analyse_batch([read_rgb(SCENES / name) for name in NO_FACE])

    assert {name: len(faces) for name, faces in zip(NO_FACE, found, strict=True)} == dict.fromkeys(NO_FACE, 0)


def test_a_batch_of_mixed_sizes_gives_what_each_image_gives_alone(cpu_engine):
    images = [
        read_rgb(photos_of("Abdullah_Gul")[0]),
        read_rgb(SCENES / "group_face_recognition_two_people.jpg"),
        read_rgb(SCENES / "noface_skimage_coins.png"),
        read_rgb(photos_of("Kate_Winslet")[0]),
        read_rgb(photos_of("Alastair_Campbell")[0]),
    ]

    batched = cpu_engine.analyse_batch(images)  # batch_size 4: two detector passes, three face-code passes

    for image, faces in zip(images, batched, strict=True):
        alone = cpu_engine.analyse(image)
        assert [face.box for face in faces] == [face.box for face in alone]
        for face, single in zip(faces, alone, strict=True):
            assert np.linalg.norm(face.code - single.code) < 1e-4


@pytest.mark.parametrize("min_face_size", [90, 120])
def test_min_face_size_keeps_the_faces_that_large_and_returns_nothing_smaller(cpu_engine, min_face_size):
    image = read_rgb(SCENES / "group_deepface_selfie-many-people.jpg")  # faces of 81 to 137 px
    everything = cpu_engine.detect_batch([image])[0]

    bounded = cpu_engine.detect_batch([image], min_face_size=min_face_size)[0]

    assert all(face.width >= min_face_size for face in bounded)
    large_enough = {face.box for face in everything if face.width >= min_face_size}
    assert large_enough and large_enough <= {face.box for face in bounded}


def test_upsampling_finds_faces_under_the_detectors_80_pixels(cpu_engine):
    full = read_rgb(photos_of("Abdullah_Gul")[0])
    small = np.asarray(Image.fromarray(full).resize((125, 125), Image.Resampling.LANCZOS))  # a 48 px face

    assert cpu_engine.analyse(small) == []
    (face,) = cpu_engine.analyse(small, upsample=1)
    assert 40 <= face.width <= 56
    (reference,) = cpu_engine.analyse(full)
    assert np.linalg.norm(face.code - reference.code) < 0.4  # the same person, from a quarter of the pixels


class EyeCentresAndNose:
    """A keypoint model giving other names than dlib's five, as a face-parsing network will."""

    def __init__(self) -> None:
        self.landmarks = LandmarkPredictor()

    def prepare(self, device: str = "cpu") -> None:
        self.landmarks.prepare(device)

    def get(self, img: np.ndarray, face: Face) -> dict[str, Point]:
        points = self.landmarks.get(img, face)
        face.keypoints = {"nose_base": points["nose_base"]} | {
            f"{side}_eye_center": tuple(
                float(v) for v in np.mean([points[f"{side}_eye_outer"], points[f"{side}_eye_inner"]], axis=0)
            )
            for side in ("left", "right")
        }
        return face.keypoints


def test_the_keypoint_model_is_a_pluggable_step():
    image = read_rgb(photos_of("Jose_Manuel_Durao_Barroso")[0])
    plugged = Engine(EngineConfig(device="cpu"), keypoints=EyeCentresAndNose())
    five_points = Engine(EngineConfig(device="cpu"), keypoints=LandmarkPredictor())

    (face,) = plugged.analyse(image)
    (reference,) = five_points.analyse(image)

    assert set(face.keypoints) == {"left_eye_center", "right_eye_center", "nose_base"}
    # three of the five points' derivatives frame the chip a little differently: the code moves, but far
    # less than between people
    assert 0 < np.linalg.norm(face.code - reference.code) < 0.15


def test_images_that_are_not_rgb_uint8_are_refused(cpu_engine):
    image = read_rgb(photos_of("Abdullah_Gul")[0])

    with pytest.raises(ValueError, match="uint8"):
        cpu_engine.analyse(image.astype(np.float32))
    with pytest.raises(ValueError, match="RGB"):
        cpu_engine.analyse(np.dstack([image, image[..., :1]]))


def test_auto_device_is_cuda_only_when_torch_sees_one():
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="no CUDA device"):
            resolve_device("cuda")


def test_the_engine_runs_on_the_configured_number_of_torch_threads(cpu_engine):
    before = torch.get_num_threads()
    try:
        cpu_engine.config = dataclasses.replace(cpu_engine.config, torch_threads=2)
        cpu_engine.prepare("cpu")
        assert torch.get_num_threads() == 2
        cpu_engine.config = dataclasses.replace(cpu_engine.config, torch_threads=1)
        cpu_engine.prepare("cpu")
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_the_process_engine_is_built_once():
    assert isinstance(engine(), Engine)
    assert engine() is engine()
