"""Frames of one camera decided by several workers at once: the camera's row lock makes them see each other's
tracks, so one person passing is one track and one decision however the frames are spread."""

import threading
import time

import pytest
from django.db import connection

from access.decisions.models import Track
from access.decisions.services import Sighting, decide
from access.doors.models import DoorCommand
from access.events.models import Event
from access.people.models import Person
from access.watchlists.models import AllowEntry

from .conftest import KATIE, frame, with_own_topics

WORKERS = 4


@pytest.mark.django_db(transaction=True)
def test_frames_decided_at_once_by_several_workers_make_one_track_and_one_grant(camera, settings):
    camera = with_own_topics(camera, settings)
    person = Person.objects.create(name="Katie Hill", external_id="E-1")
    AllowEntry.objects.create(person=person, door=camera.door)
    pixels = frame(KATIE, 100)
    start = threading.Barrier(WORKERS)
    decided: list[list[Event]] = []
    failures: list[BaseException] = []

    def worker(index: int) -> None:
        try:
            sighting = Sighting(box=(140.0 + index, 150.0, 377.0 + index, 387.0), person_id=person.pk,
                                distance=0.3)  # fmt: skip
            start.wait()
            decided.append(decide(camera, [sighting], pixels, time.time(), f"frame-{index}", {}))
        except BaseException as error:  # reported by the test thread below
            failures.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    [track] = Track.objects.all()
    assert sorted(seen["frame"] for seen in track.observations) == [f"frame-{i}" for i in range(WORKERS)]
    [grant] = [event for events in decided for event in events]
    assert list(Event.objects.all()) == [grant] and grant.decision == "grant"
    assert DoorCommand.objects.filter(event=grant, action="open").count() == 1
