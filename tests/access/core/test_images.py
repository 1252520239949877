"""Photo intake: only a real, complete JPEG, PNG or WebP within the limits gets through."""

import base64

import pytest
from django.core.exceptions import ValidationError

from access.core.images import decode_base64_image, decode_image, rgb_pixels


@pytest.mark.parametrize(("image_format", "extension"), [("JPEG", "jpg"), ("PNG", "png"), ("WEBP", "webp")])
def test_accepts_the_three_formats(reencode, image_format, extension):
    decoded = decode_image(reencode(image_format))

    assert (decoded.format, decoded.extension) == (image_format, extension)
    assert (decoded.width, decoded.height) == (250, 250)


def test_pixels_come_back_as_rgb(photo_bytes):
    pixels = rgb_pixels(photo_bytes)

    assert pixels.shape == (250, 250, 3)
    assert pixels.dtype.name == "uint8"
    assert pixels.std() > 10  # a real photo, not a blank frame


def _corrupt(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + b"\xff" * 500 + data[middle + 500 :]


@pytest.mark.parametrize(
    ("mangle", "code"),
    [
        (lambda data: b"", "empty"),
        (lambda data: b"GIF? no, just text pretending to be a photo", "not_an_image"),
        (lambda data: data[: len(data) // 2], "corrupt"),
        (lambda data: data[:-200], "corrupt"),
        (lambda data: data[:300], "corrupt"),
        (_corrupt, "corrupt"),
        (lambda data: b"\xff\xd8" + b"A" * 600 + data[602:], "not_an_image"),
    ],
    ids=[
        "empty",
        "text",
        "truncated-half",
        "truncated-tail",
        "header-only",
        "corrupt-body",
        "corrupt-header",
    ],
)
def test_rejects_broken_jpegs(photo_bytes, mangle, code):
    with pytest.raises(ValidationError) as caught:
        decode_image(mangle(photo_bytes))

    assert caught.value.code == code


def test_rejects_other_formats(reencode):
    with pytest.raises(ValidationError, match="GIF images are not accepted"):
        decode_image(reencode("GIF"))


def test_rejects_oversize_files_and_pixel_counts(settings, photo_bytes):
    settings.FACEGATE_MAX_UPLOAD_BYTES = len(photo_bytes) - 1
    with pytest.raises(ValidationError, match="limit is"):
        decode_image(photo_bytes)

    settings.FACEGATE_MAX_UPLOAD_BYTES = 10_000_000
    settings.FACEGATE_MAX_UPLOAD_PIXELS = 200 * 200
    with pytest.raises(ValidationError, match="250x250 pixels"):
        decode_image(photo_bytes)


def test_base64_and_data_urls(photo_bytes):
    text = base64.b64encode(photo_bytes).decode()

    assert decode_base64_image(text).data == photo_bytes
    assert decode_base64_image(f"data:image/jpeg;base64,{text}").data == photo_bytes
    with pytest.raises(ValidationError, match="not valid base64"):
        decode_base64_image("this is %% not base64")
