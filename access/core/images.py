"""Intake of uploaded photos: a photo is accepted only once Pillow has decoded every pixel of it."""

import base64
import binascii
import warnings
from dataclasses import dataclass
from io import BytesIO

import numpy as np
from django.conf import settings
from django.core.exceptions import ValidationError
from PIL import Image, UnidentifiedImageError

from recognition.images import read_rgb

ACCEPTED_FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}


@dataclass(frozen=True)
class DecodedImage:
    """A photo that decoded cleanly; `data` is the file exactly as uploaded."""

    data: bytes
    format: str
    width: int
    height: int

    @property
    def extension(self) -> str:
        return ACCEPTED_FORMATS[self.format]


def rgb_pixels(data: bytes) -> np.ndarray:
    """A stored photo's pixels as an HxWx3 uint8 RGB array, upright as its EXIF tag says."""
    return read_rgb(data)


def check_upload_size(size: int) -> None:
    limit = settings.FACEGATE_MAX_UPLOAD_BYTES
    if size > limit:
        raise ValidationError(f"The image is {size} bytes; the limit is {limit} bytes.", code="too_large")


def decode_image(data: bytes) -> DecodedImage:
    """The photo as a DecodedImage, or a ValidationError saying plainly what is wrong with it."""
    if not data:
        raise ValidationError("The image is empty.", code="empty")
    check_upload_size(len(data))
    try:
        with warnings.catch_warnings():
            # Above its own (higher) pixel limit Pillow merely warns; a decompression bomb must fail instead.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(BytesIO(data)) as image:
                image_format, (width, height) = image.format, image.size
                _check_format_and_pixels(image_format, width, height)
                image.verify()
            # verify() leaves the image unusable, and only load() reaches a truncated or broken pixel stream.
            with Image.open(BytesIO(data)) as image:
                image.load()
    except UnidentifiedImageError as exc:
        raise ValidationError("The file is not an image Pillow can read.", code="not_an_image") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ValidationError(f"The image has too many pixels ({exc}).", code="too_many_pixels") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ValidationError(f"The image is corrupt or truncated ({exc}).", code="corrupt") from exc
    return DecodedImage(data=data, format=image_format, width=width, height=height)


def _check_format_and_pixels(image_format: str, width: int, height: int) -> None:
    if image_format not in ACCEPTED_FORMATS:
        raise ValidationError(
            f"{image_format} images are not accepted; send JPEG, PNG or WebP.", code="format"
        )
    pixel_limit = settings.FACEGATE_MAX_UPLOAD_PIXELS
    if width * height > pixel_limit:
        raise ValidationError(
            f"The image has {width}x{height} pixels; the limit is {pixel_limit} pixels.",
            code="too_many_pixels",
        )


def decode_base64_image(text: str) -> DecodedImage:
    """Base64 text, optionally as a data URL (`data:image/jpeg;base64,...`), decoded to a DecodedImage."""
    if text.startswith("data:"):
        _, _, text = text.partition(",")
    # Base64 swells the payload by 4/3; refuse an oversize image before decoding it.
    check_upload_size(len(text) * 3 // 4)
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValidationError("The image is not valid base64.", code="base64") from exc
    return decode_image(data)
