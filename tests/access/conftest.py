"""Fixtures for the access apps: users per role with real API tokens, a small site, and real photos."""

from collections.abc import Callable
from io import BytesIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from PIL import Image
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from access.accounts.roles import Role
from access.cameras.models import Camera
from access.doors.models import Door, DoorGroup
from access.people.models import Consent, Person
from tests.facedata import FACEDATA

IDENTITIES = FACEDATA / "identities"

ANONYMOUS = "anonymous"
ROLES = [ANONYMOUS, *Role.values]


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path: Path) -> Path:
    """Each test stores its encrypted files in its own folder, so files can be counted before and after."""
    root = tmp_path / "media"
    settings.MEDIA_ROOT = str(root)
    return root


def stored_files(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file()) if root.exists() else []


@pytest.fixture
def photo_path() -> Path:
    """A real JPEG photo of a real person (LFW)."""
    if not IDENTITIES.is_dir():
        pytest.skip(
            f"real face photos not found at {IDENTITIES} (set FACEGATE_FACEDATA to the facedata folder)"
        )
    return IDENTITIES / "Abdullah_Gul" / "1.jpg"


@pytest.fixture
def photo_bytes(photo_path: Path) -> bytes:
    return photo_path.read_bytes()


@pytest.fixture
def reencode(photo_bytes: bytes) -> Callable[[str], bytes]:
    """The same real photo re-encoded in another format (PNG, WEBP, GIF...)."""

    def to_format(image_format: str) -> bytes:
        out = BytesIO()
        Image.open(BytesIO(photo_bytes)).save(out, image_format)
        return out.getvalue()

    return to_format


def make_user(role: str, username: str | None = None):
    user = get_user_model().objects.create_user(username=username or f"{role}-user", password="unused-pw-123")
    user.groups.add(Group.objects.get(name=role))
    return user


def token_client(user) -> APIClient:
    client = APIClient(REMOTE_ADDR="203.0.113.7")
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


@pytest.fixture
def client_for(db) -> Callable[[str], APIClient]:
    """An API client that authenticates with a real token as a user of `role`; anonymous sends nothing."""

    def build(role: str) -> APIClient:
        if role == ANONYMOUS:
            return APIClient(REMOTE_ADDR="203.0.113.7")
        return token_client(make_user(role))

    return build


@pytest.fixture
def operator_client(client_for) -> APIClient:
    return client_for(Role.OPERATOR)


@pytest.fixture
def person(db) -> Person:
    person = Person.objects.create(name="Abdullah Gul", external_id="E-1001")
    Consent.objects.create(person=person, method=Consent.Method.SIGNED_FORM, document_reference="HR file 17")
    return person


@pytest.fixture
def person_without_consent(db) -> Person:
    return Person.objects.create(name="Al Sharpton", external_id="E-1002")


@pytest.fixture
def door(db) -> Door:
    return Door.objects.create(name="Main entrance", controller_kind="mqtt", mqtt_topic="doors/main/open")


@pytest.fixture
def door_group(door: Door) -> DoorGroup:
    group = DoorGroup.objects.create(name="Ground floor")
    group.doors.add(door)
    return group


@pytest.fixture
def camera(door: Door) -> Camera:
    return Camera.objects.create(name="Main entrance cam", source_url="rtsp://10.0.0.5/stream1", door=door)


@pytest.fixture
def worker_gallery(settings, tmp_path, monkeypatch) -> Path:
    """A test that starts the way a fresh worker process does: no gallery in memory, none saved; skipped
    without the real photos it enrolls."""
    from recognition import tasks

    if not IDENTITIES.is_dir() or not (FACEDATA / "scenes").is_dir():
        pytest.skip(f"real photos not found under {FACEDATA} (set FACEGATE_FACEDATA)")
    settings.FACEGATE_GALLERY_DIR = tmp_path / "gallery"
    monkeypatch.setattr(tasks.RecognitionTask, "_gallery", None)
    return settings.FACEGATE_GALLERY_DIR
