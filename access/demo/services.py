"""The demo site the run command seeds: a door, a camera playing the demo clip in a loop, and one enrolled
person allowed through the door, so a new user sees a grant and a deny among the events within a minute."""

from collections.abc import Callable
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from django.conf import settings
from django.db import transaction
from PIL import Image

from access.cameras.models import Camera
from access.core.images import decode_image
from access.doors.models import Door
from access.people.models import Consent, FaceSample, Person
from access.people.services import store_sample
from access.watchlists.models import AllowEntry

from .clip import demo_portraits, write_clip

DOOR_NAME = "Demo door"
CAMERA_NAME = "Demo camera"
PERSON_EXTERNAL_ID = "demo-astronaut"
PERSON_NAME = "Demo astronaut (Eileen Collins)"
CONSENT_REFERENCE = (
    "Demo data: NASA's public-domain portrait shipped with scikit-image (skimage.data.astronaut)"
)
DEMO_MQTT_TOPIC = "facegate/demo/door"
CLIP_NAME = "demo-clip.mp4"


def clip_path() -> Path:
    return Path(settings.DATA_DIR) / "demo" / CLIP_NAME


@dataclass(frozen=True)
class DemoSite:
    door: Door
    camera: Camera
    person: Person
    sample: FaceSample


def seed_demo(enroll_now: Callable[[int], object] | None = None) -> DemoSite:
    """Make the demo site, or bring it back to its seeded state; running it again makes nothing twice.

    `enroll_now` (the enrollment task's body) enrolls the demo photo here, so the first frames the camera
    sends already meet an enrolled face; without it the photo is queued to the enrollment workers.
    """
    path = clip_path()
    if not path.is_file():
        write_clip(path)
    photo = _png(demo_portraits()["enrolled"].pixels)
    with transaction.atomic():
        door, _ = Door.objects.get_or_create(
            name=DOOR_NAME,
            defaults={
                "location": "Demo: a door camera playing a clip",
                "controller_kind": Door.ControllerKind.MQTT,
                "mqtt_topic": DEMO_MQTT_TOPIC,
            },
        )
        person, _ = Person.objects.get_or_create(
            external_id=PERSON_EXTERNAL_ID,
            defaults={"name": PERSON_NAME, "notes": "Demo person, seeded by manage.py seed_demo."},
        )
        Consent.objects.get_or_create(
            person=person,
            defaults={"method": Consent.Method.ELECTRONIC, "document_reference": CONSENT_REFERENCE},
        )
        if not AllowEntry.objects.filter(person=person, door=door).exists():
            AllowEntry.objects.create(person=person, door=door, note="Demo")
        sample, _ = store_sample(person, decode_image(photo), enqueue=enroll_now is None)
        camera, _ = Camera.objects.update_or_create(
            name=CAMERA_NAME,
            defaults={"source_url": path.as_uri(), "loop": True, "door": door, "enabled": True},
        )
        camera.full_clean()
    if enroll_now is not None and sample.state == FaceSample.State.PENDING:
        enroll_now(sample.pk)
        sample.refresh_from_db()
    return DemoSite(door, camera, person, sample)


def disable_demo() -> bool:
    """Stop the demo camera (the demo's events and people stay); whether there was one to stop."""
    return Camera.objects.filter(name=CAMERA_NAME, enabled=True).update(enabled=False) > 0


def _png(pixels) -> bytes:
    out = BytesIO()
    Image.fromarray(pixels).save(out, "PNG")
    return out.getvalue()
