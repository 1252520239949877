"""Camera sources: every form a camera can be read from is accepted, anything else is a 400 saying why."""

import pytest
from django.core.exceptions import ValidationError

from access.cameras.models import Camera
from access.cameras.sources import Source, SourceKind, parse_source, redacted


@pytest.mark.parametrize(
    ("url", "source"),
    [
        ("rtsp://10.0.0.5/stream1", Source(SourceKind.STREAM, "rtsp://10.0.0.5/stream1")),
        ("rtsps://cam.example.org:322/live", Source(SourceKind.STREAM, "rtsps://cam.example.org:322/live")),
        ("rtsp://admin:s3cret@10.0.0.5:554/h264", Source(SourceKind.STREAM, "rtsp://admin:s3cret@10.0.0.5:554/h264")),
        ("http://127.0.0.1:8081/video.mjpg", Source(SourceKind.STREAM, "http://127.0.0.1:8081/video.mjpg")),
        ("https://cam.example.org/mjpeg", Source(SourceKind.STREAM, "https://cam.example.org/mjpeg")),
        ("file:///srv/clips/door.mp4", Source(SourceKind.FILE, "/srv/clips/door.mp4")),
        ("file://localhost/srv/clips/door%20cam.mp4", Source(SourceKind.FILE, "/srv/clips/door cam.mp4")),
        ("/srv/clips/door.mp4", Source(SourceKind.FILE, "/srv/clips/door.mp4")),
        ("device://0", Source(SourceKind.DEVICE, 0)),
        ("device://12", Source(SourceKind.DEVICE, 12)),
    ],
)
def test_accepted_sources(url, source):
    assert parse_source(url) == source


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("not a url", "not a camera source"),
        ("ftp://10.0.0.5/clip.mp4", "not a camera source"),
        ("rtsp://", "not a valid rtsp URL"),
        ("http://exa mple.org/stream", "not a valid http URL"),
        ("clips/door.mp4", "not a camera source"),
        ("file://nas/clips/door.mp4", "must be on this machine"),
        ("file:///srv/clips/", "absolute file path"),
        ("device://front", "device://N"),
        ("device://", "device://N"),
    ],
)
def test_refused_sources_say_why(url, complaint):
    with pytest.raises(ValidationError, match=complaint):
        parse_source(url)


def test_errors_do_not_show_the_password():
    with pytest.raises(ValidationError) as refused:
        parse_source("rtsp://admin:s3cret@exa mple/s")

    assert "s3cret" not in str(refused.value)
    assert redacted("rtsp://admin:s3cret@10.0.0.5:554/h") == "rtsp://admin:***@10.0.0.5:554/h"


@pytest.mark.parametrize("url", ["device://0", "file:///srv/clips/door.mp4", "http://10.0.0.9/mjpeg"])
def test_the_api_takes_every_source_form(client_for, db, url):
    response = client_for("admin").post("/api/cameras/", {"name": "Cam", "source_url": url}, format="json")

    assert response.status_code == 201, response.json()
    assert Camera.objects.get().source_url == url


def test_the_api_says_what_a_bad_source_is(client_for, db):
    response = client_for("admin").post(
        "/api/cameras/", {"name": "Cam", "source_url": "ftp://10.0.0.5/clip.mp4"}, format="json"
    )

    assert response.status_code == 400
    assert "device://N" in response.json()["source_url"][0]
    assert not Camera.objects.exists()


def test_only_a_file_loops(client_for, db):
    admin = client_for("admin")

    refused = admin.post(
        "/api/cameras/", {"name": "Live", "source_url": "rtsp://10.0.0.5/s", "loop": True}, format="json"
    )
    accepted = admin.post(
        "/api/cameras/", {"name": "Demo", "source_url": "/srv/clips/demo.mp4", "loop": True}, format="json"
    )

    assert refused.status_code == 400
    assert "Only a video file can loop" in refused.json()["loop"][0]
    assert accepted.status_code == 201
    assert list(Camera.objects.values_list("name", "loop")) == [("Demo", True)]
