"""Where a camera's frames come from: what `Camera.source_url` may say, and how OpenCV is asked to open it.

- `rtsp://`, `rtsps://`: a network camera's stream.
- `http://`, `https://`: an MJPEG (or other) stream OpenCV's FFmpeg backend reads.
- `file:///abs/path/clip.mp4` or `/abs/path/clip.mp4`: a video file, read at the camera's frame rate.
- `device://N`: local capture device N (/dev/videoN on Linux).
"""

from dataclasses import dataclass
from enum import StrEnum
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

STREAM_SCHEMES = ("rtsp", "rtsps", "http", "https")
SOURCE_FORMS = "rtsp(s)://host/path, http(s)://host/path, file:///abs/path.mp4, /abs/path.mp4 or device://N"


class SourceKind(StrEnum):
    STREAM = "stream"
    FILE = "file"
    DEVICE = "device"


@dataclass(frozen=True)
class Source:
    kind: SourceKind
    target: str | int  # what cv2.VideoCapture opens: a URL, a file path or a device index

    @property
    def is_live(self) -> bool:
        """A live source is read as fast as it delivers; a file is paced to its own frame rate."""
        return self.kind is not SourceKind.FILE


def parse_source(url: str) -> Source:
    """The source a camera's `source_url` names, or a ValidationError listing the accepted forms."""
    url = url.strip()
    if url.startswith("/"):
        return Source(SourceKind.FILE, _file_path(url, url))
    scheme = urlsplit(url).scheme.lower()
    if scheme in STREAM_SCHEMES:
        try:
            URLValidator(schemes=list(STREAM_SCHEMES))(url)
        except ValidationError as exc:
            raise ValidationError(f"{redacted(url)!r} is not a valid {scheme} URL.", code="invalid") from exc
        return Source(SourceKind.STREAM, url)
    if scheme == "file":
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            raise ValidationError(
                f"{url!r} names a file on host {parts.netloc!r}; a file source must be on this machine "
                "(file:///abs/path.mp4).",
                code="invalid",
            )
        return Source(SourceKind.FILE, _file_path(unquote(parts.path), url))
    if scheme == "device":
        index = url[len("device://"):]
        if not index.isdigit():
            raise ValidationError(
                f"{url!r}: a device source is device://N with N the device number, e.g. device://0.",
                code="invalid",
            )
        return Source(SourceKind.DEVICE, int(index))
    raise ValidationError(f"{redacted(url)!r} is not a camera source; use {SOURCE_FORMS}.", code="invalid")


def _file_path(path: str, url: str) -> str:
    if not PurePosixPath(path).is_absolute() or path.endswith("/"):
        raise ValidationError(f"{url!r}: a video file source needs an absolute file path.", code="invalid")
    return path


def validate_source_url(url: str) -> None:
    parse_source(url)


def redacted(url: str) -> str:
    """The URL without its password, for logs and error messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return parts._replace(netloc=f"{parts.username}:***@{host}").geturl()
