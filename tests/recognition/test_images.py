from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from recognition.images import UnreadableImage, read_rgb
from tests.facedata import FACEDATA

PHOTO = FACEDATA / "identities" / "Barack_Obama" / "1.jpg"


@pytest.fixture
def photo() -> Image.Image:
    if not PHOTO.exists():
        pytest.skip(f"real face photos not found at {PHOTO.parent} (set FACEGATE_FACEDATA)")
    with Image.open(PHOTO) as image:
        return image.convert("RGB")


def test_a_photo_stored_sideways_with_an_exif_rotation_comes_out_upright(photo):
    sideways = photo.rotate(90, expand=True)  # what a phone held in portrait writes
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
    stored = BytesIO()
    sideways.save(stored, format="PNG", exif=exif)

    pixels = read_rgb(stored.getvalue())

    assert pixels.shape == np.asarray(photo).shape
    assert np.array_equal(pixels, np.asarray(photo))


def test_a_file_path_and_its_bytes_read_the_same(photo):
    assert np.array_equal(read_rgb(PHOTO), read_rgb(PHOTO.read_bytes()))


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda tmp: tmp / "missing.jpg", "no such file"),
        (lambda tmp: tmp, "is a directory"),
        (lambda tmp: _write(tmp / "notes.jpg", b"these are notes, not pixels"), "not an image"),
        (lambda tmp: _write(tmp / "cut.jpg", PHOTO.read_bytes()[:2000]), "corrupt or truncated"),
    ],
)
def test_unreadable_inputs_say_why(photo, tmp_path, make, reason):
    with pytest.raises(UnreadableImage, match=reason):
        read_rgb(make(tmp_path))


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
