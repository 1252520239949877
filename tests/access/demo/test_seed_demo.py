"""The demo the run command seeds: one door, camera and enrolled person however often it runs, and a clip
whose frames the engine reads as the enrolled demo person (granted) and a stranger (denied).

The photos ship with scikit-image (public domain and CC0), so these tests need no shared face data.
"""

import time
from io import StringIO
from pathlib import Path
from uuid import uuid4

import cv2
import numpy as np
import pytest
from django.core.management import call_command

from access.cameras.models import Camera
from access.decisions import services as decisions
from access.demo import clip, services
from access.doors.models import Door
from access.events.models import Event
from access.people.models import Consent, FaceSample, Person
from access.watchlists.models import AllowEntry
from recognition import tasks
from recognition.pipeline import engine


@pytest.fixture(autouse=True)
def demo_data(settings, tmp_path, monkeypatch) -> Path:
    """The data folder (where the clip goes) and the worker's gallery start empty, as on a first run."""
    settings.DATA_DIR = tmp_path / "data"
    settings.FACEGATE_GALLERY_DIR = tmp_path / "gallery"
    monkeypatch.setattr(tasks.RecognitionTask, "_gallery", None)
    return settings.DATA_DIR


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def clip_frames(path: Path) -> list[np.ndarray]:
    """The frames of the written clip file, as OpenCV (and so the camera service) reads them back, RGB."""
    capture = cv2.VideoCapture(str(path))
    frames = []
    ok, frame = capture.read()
    while ok:
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
        ok, frame = capture.read()
    capture.release()
    return frames


def test_seeding_twice_makes_one_demo_door_camera_and_enrolled_person(db, demo_data):
    first = seed()
    second = seed()

    door, camera, person = Door.objects.get(), Camera.objects.get(), Person.objects.get()
    assert (door.name, camera.name, person.external_id) == (
        services.DOOR_NAME,
        services.CAMERA_NAME,
        services.PERSON_EXTERNAL_ID,
    )
    assert camera.door == door and camera.loop and camera.enabled
    assert camera.source_url == (demo_data / "demo" / services.CLIP_NAME).as_uri()
    assert (demo_data / "demo" / services.CLIP_NAME).stat().st_size > 0
    (sample,) = FaceSample.objects.all()
    assert sample.person == person and sample.state == FaceSample.State.ENROLLED
    assert person.consent.method == Consent.Method.ELECTRONIC
    assert AllowEntry.objects.get().door == door
    assert "is enrolled and allowed" in first and first == second


def test_the_demo_can_be_switched_off_and_on_again(db):
    seed()

    call_command("seed_demo", "--disable", stdout=StringIO())
    assert not Camera.objects.get().enabled

    seed()
    assert Camera.objects.get().enabled and Camera.objects.count() == 1


def test_the_clip_shows_the_enrolled_astronaut_and_a_stranger_the_engine_tells_apart(db, demo_data):
    site = services.seed_demo(enroll_now=tasks.enroll_sample)
    frames = clip_frames(services.clip_path())
    gallery, scoring = tasks.process_frame.synced_gallery(), tasks.process_frame.scoring()
    assert len(frames) == round(sum(seconds for _, seconds in clip.TIMELINE) * clip.FPS)

    def who(index: int) -> list[int | None]:
        found = tasks.identify(frames[index], engine(), gallery, scoring, site.camera.min_face_size)
        return [
            identification.matches[0].person_id if identification.matches else None
            for _, identification in found
        ]

    for part, expected in (("enrolled", [site.person.pk]), ("stranger", [None])):
        indices = clip.segment_frames(part)
        for index in (indices[0], indices[len(indices) // 2], indices[-1]):
            assert who(index) == expected, f"{part} frame {index}"
    assert who(clip.segment_frames("empty")[0]) == []


def test_the_clip_through_the_frame_pipeline_grants_the_astronaut_and_denies_the_stranger(
    db, settings, django_capture_on_commit_callbacks
):
    """The frames the camera service would send (5 a second of clip time), decided as the worker does."""
    settings.FACEGATE_MAX_FRAME_AGE_S = 3600.0  # a shared CPU analyses slower than the clip plays
    site = services.seed_demo(enroll_now=tasks.enroll_sample)
    frames = clip_frames(services.clip_path())
    started = time.time()  # the camera starts playing the clip once the demo is seeded
    step = round(clip.FPS / site.camera.frame_rate)

    events: list[Event] = []
    for part in ("enrolled", "stranger"):
        for index in list(clip.segment_frames(part))[::step][:6]:
            with django_capture_on_commit_callbacks(execute=True):
                events += decisions.process_frame(
                    site.camera.pk,
                    cv2.imencode(".jpg", cv2.cvtColor(frames[index], cv2.COLOR_RGB2BGR))[1].tobytes(),
                    started + index / clip.FPS,
                    f"{site.camera.pk}-{uuid4().hex}",
                    engine=engine(),
                    gallery=tasks.process_frame.synced_gallery(),
                    scoring=tasks.process_frame.scoring,
                )

    decided = [(event.decision, event.person_id) for event in events]
    assert decided == [(Event.Decision.GRANT, site.person.pk), (Event.Decision.DENY, None)]
