"""The cameras page: who may see it, and what it says of each camera's frames and latest decisions."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
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


def test_recent_decisions_are_boxed_over_the_latest_frame(client, camera, person, photo_bytes):
    photo = decode_image(photo_bytes)
    half_width, half_height = photo.width / 2, photo.height / 2
    older, _ = record_event("box-1", snapshot=photo, face_box=(0, 0, half_width, half_height), camera=camera,
                            door=camera.door, decision="deny", distance=0.7, reason="Unknown face")
    newest, _ = record_event("box-2", snapshot=photo, face_box=(half_width, half_height, photo.width,
                             photo.height * 2), camera=camera, door=camera.door, person=person,
                             decision="grant", distance=0.3, reason="Allowed")
    record_event("no-box", camera=camera, door=camera.door, decision="deny", reason="No snapshot, no box")
    client.force_login(make_user("operator"))

    card = camera_card(client.get(reverse("dashboard:cameras")).content.decode(), camera)

    assert older.face_box == [0.0, 0.0, 0.5, 0.5]
    assert newest.face_box == [0.5, 0.5, 1.0, 1.0], "a box past the frame's edge is kept within it"
    boxes = card[card.index('class="frame-image"'):card.index("</figure>")]
    assert boxes.count('class="face-box') == 2, "the decision without a box draws none"
    assert boxes.index(f'data-event-id="{older.pk}"') < boxes.index(f'data-event-id="{newest.pk}"'), (
        "the latest frame's own face is drawn last, on top"
    )
    assert f'face-box decision-grant current" data-event-id="{newest.pk}"' in boxes
    assert "left: 50.00%; top: 50.00%; width: 50.00%; height: 50.00%" in boxes
    assert "left: 0.00%; top: 0.00%; width: 50.00%; height: 50.00%" in boxes
    assert 'face-label">Abdullah Gul<' in boxes and 'face-label">Unknown<' in boxes


def test_a_box_needs_the_snapshot_it_is_in(camera):
    with pytest.raises(ValueError, match="snapshot"):
        record_event("box-without-frame", face_box=(1, 2, 3, 4), camera=camera, decision="deny", reason="x")
    assert not camera.events.exists()


def test_the_cameras_page_reads_every_camera_in_a_fixed_number_of_queries(client, door, photo_bytes):
    def add_camera_with_decisions(number: int) -> None:
        added = Camera.objects.create(name=f"Cam {number}", source_url=f"rtsp://10.0.1.{number}/s", door=door)
        CameraHealth.objects.create(camera=added, heartbeat_at=timezone.now())
        for decision in range(3):
            record_event(f"cam{number}-{decision}", snapshot=decode_image(photo_bytes), face_box=(1, 1, 9, 9),
                         camera=added, door=door, decision="deny", reason="Unknown face")

    client.force_login(make_user("operator"))
    add_camera_with_decisions(1)
    with CaptureQueriesContext(connection) as one_camera:
        assert client.get(reverse("dashboard:cameras")).status_code == 200
    for number in (2, 3, 4):
        add_camera_with_decisions(number)
    with CaptureQueriesContext(connection) as four_cameras:
        page = client.get(reverse("dashboard:cameras")).content.decode()

    assert page.count('class="card camera"') == 4 and page.count('class="face-box') == 12
    assert len(four_cameras) == len(one_camera), [query["sql"] for query in four_cameras.captured_queries]
