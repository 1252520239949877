"""End to end through the real services: a camera posts frames to the API, the real Celery worker decides,
and the door controller subscribed on the real Mosquitto receives the open command."""

import base64
import time

import pytest
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from access.accounts.roles import Role
from access.cameras.models import Camera, CameraHealth
from access.cameras.services import issue_device_token
from access.events.models import Event
from recognition import tasks

from .conftest import KATIE, allowed, jpeg, mqtt_subscriber, probes, with_own_topics

WAIT_S = 180  # a cold worker loads the engine and builds its gallery first, on a shared CPU


def handled_frames(camera: Camera) -> int:
    health = CameraHealth.objects.filter(camera=camera).first()
    return 0 if health is None else health.frames_analysed + health.frames_stale


def wait_until_handled(camera: Camera, count: int, worker) -> None:
    deadline = time.monotonic() + WAIT_S
    while handled_frames(camera) < count:
        if time.monotonic() > deadline:
            pytest.fail(f"the worker handled {handled_frames(camera)} of {count} frames; its log ends:\n"
                        f"{worker.log_tail()}", pytrace=False)
        time.sleep(0.2)


@pytest.mark.django_db(transaction=True)  # committed rows, for the worker to see
def test_frames_posted_by_the_camera_open_the_door_through_the_worker(celery_worker, camera, settings):
    camera = with_own_topics(camera, settings)
    # The device role holds no model permissions; a committing test before this one emptied the groups.
    Group.objects.get_or_create(name=Role.DEVICE)
    katie = allowed("Katie Hill", KATIE, camera)
    device = APIClient()
    device.credentials(HTTP_AUTHORIZATION=f"Token {issue_device_token(camera)}")
    frames = probes(KATIE, 3)
    # Warm the worker (engine, gallery), or the first frames would wait past FACEGATE_MAX_FRAME_AGE_S.
    tasks.identify_image.delay(base64.b64encode(jpeg(frames[0])).decode()).get(timeout=WAIT_S)

    with mqtt_subscriber(f"{camera.door.mqtt_topic}/set") as door_controller:
        # One frame at a time, as a camera at a frame rate the worker keeps up with: none goes stale.
        for posted, pixels in enumerate(frames, start=1):
            body = {"image_base64": base64.b64encode(jpeg(pixels)).decode()}
            response = device.post(f"/api/cameras/{camera.pk}/frames/", body, format="json")
            assert response.status_code == 202 and response.json()["queued"]
            wait_until_handled(camera, posted, celery_worker)
        _topic, command = door_controller.next()
        assert door_controller.pending() == []

    grant = Event.objects.get()
    assert (grant.decision, grant.person, grant.camera, grant.door) == ("grant", katie, camera, camera.door)
    assert (command["action"], command["event_id"]) == ("open", grant.pk)
    assert CameraHealth.objects.get(camera=camera).frames_analysed == 3
