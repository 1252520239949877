"""The cameras page: who may see it, and what it says of each camera's frames and latest decisions."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from access.cameras.models import Camera, CameraHealth
from access.cameras.services import record_frame_stats, touch_heartbeat
from access.core.images import decode_image
from access.events.services import record_event
from tests.access.conftest import make_user

pytestmark = pytest.mark.django_db


def camera_card(page: str, camera: Camera) -> str:
    start = page.index(f'data-camera-id="{camera.pk}"')
    return page[start:page.index("</section>", start)]


@pytest.mark.parametrize(
    ("role", "status"), [("viewer", 403), ("device", 403), ("operator", 200), ("admin", 200)]
)
def test_operators_and_admins_see_the_cameras(client, camera, role, status):
    client.force_login(make_user(role))
    assert client.get(reverse("dashboard:cameras")).status_code == status


def test_each_camera_shows_its_counters_and_latest_frame(client, camera, person, photo_bytes):
    record_frame_stats(camera.pk, read=120, sent=100, dropped=20, stale=3, corrupt=2, analysed=97,
                       reconnects=1)
    touch_heartbeat(camera.pk, frames_per_second=4.8)
    record_event("cam-1", snapshot=decode_image(photo_bytes), camera=camera, door=camera.door, person=person,
                 decision="grant", distance=0.2871, reason="Allowed")
    latest, _ = record_event("cam-2", snapshot=decode_image(photo_bytes), camera=camera, door=camera.door,
                             decision="deny", distance=0.61, reason="Unknown face")
    quiet = Camera.objects.create(name="Yard cam", source_url="rtsp://10.0.0.9/stream1")
    CameraHealth.objects.create(camera=quiet, heartbeat_at=timezone.now() - timedelta(minutes=3))
    client.force_login(make_user("operator"))

    response = client.get(reverse("dashboard:cameras"))

    assert response["Refresh"] == "15", "the page follows the counters"
    page = response.content.decode()
    main, yard = camera_card(page, camera), camera_card(page, quiet)
    assert 'service">Reading' in main and 'service">Quiet' in yard
    for figure in ('fps">4.8', 'read">120 · 97', 'dropped warn">20', 'stale warn">3', 'corrupt warn">2',
                   'reconnects">1'):
        assert figure in main
    assert reverse("api:event-snapshot", args=[latest.pk]) in main
    assert 'overlay decision-deny' in main and "0.610" in main
    assert main.count("<li class=\"decision-") == 2
    assert "No frame kept yet" in yard and 'dropped">0' in yard


def test_a_camera_never_heard_from(client, camera):
    client.force_login(make_user("operator"))

    card = camera_card(client.get(reverse("dashboard:cameras")).content.decode(), camera)

    assert 'service">Quiet' in card and 'heartbeat">Never' in card and 'fps">0.0' in card
