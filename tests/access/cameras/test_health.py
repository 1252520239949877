"""Camera health: counters grow atomically from many callers, and each stage's time is stamped."""

import threading

import pytest
from django.db import connection

from access.cameras.models import CameraHealth
from access.cameras.services import record_frame_stats, touch_heartbeat


def test_the_first_figures_make_the_row(camera):
    assert not CameraHealth.objects.filter(camera=camera).exists()

    record_frame_stats(camera.pk, read=3, sent=2, dropped=1)

    health = CameraHealth.objects.get(camera=camera)
    assert (health.frames_read, health.frames_sent, health.frames_dropped) == (3, 2, 1)
    assert health.last_frame_at is not None
    assert health.last_analysed_at is None
    assert health.heartbeat_at is None


def test_counters_add_up_and_take_field_names_too(camera):
    record_frame_stats(camera.pk, stale=1, corrupt=2, reconnects=1)
    record_frame_stats(camera.pk, frames_stale=4, analysed=1)

    health = CameraHealth.objects.get(camera=camera)
    counters = (health.frames_stale, health.frames_corrupt, health.reconnects, health.frames_analysed)
    assert counters == (5, 2, 1, 1)
    assert health.last_analysed_at is not None
    assert health.last_frame_at is None


def test_an_unknown_counter_is_refused(camera):
    with pytest.raises(ValueError, match="not a camera frame counter"):
        record_frame_stats(camera.pk, frames_seen=1)


def test_a_deleted_camera_keeps_no_figures(camera):
    camera_id = camera.pk
    camera.delete()

    record_frame_stats(camera_id, read=1)
    touch_heartbeat(camera_id)

    assert not CameraHealth.objects.filter(camera_id=camera_id).exists()


def test_heartbeat_stamps_time_and_rate(camera):
    touch_heartbeat(camera.pk)
    first = CameraHealth.objects.get(camera=camera).heartbeat_at

    touch_heartbeat(camera.pk, frames_per_second=4.5)

    health = CameraHealth.objects.get(camera=camera)
    assert health.heartbeat_at > first
    assert health.frames_per_second == 4.5


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_lose_no_increment(door):
    from access.cameras.models import Camera

    camera = Camera.objects.create(name="Busy cam", source_url="rtsp://10.0.0.9/s", door=door)
    rounds, writers = 25, 4

    def count() -> None:
        try:
            for _ in range(rounds):
                record_frame_stats(camera.pk, read=1, analysed=1)
        finally:
            connection.close()

    threads = [threading.Thread(target=count) for _ in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    health = CameraHealth.objects.get(camera=camera)
    assert (health.frames_read, health.frames_analysed) == (rounds * writers, rounds * writers)


def test_the_api_shows_each_camera_health(client_for, camera, door):
    from access.cameras.models import Camera

    quiet = Camera.objects.create(name="Quiet cam", source_url="device://0", door=door)
    record_frame_stats(camera.pk, read=4, dropped=1)
    touch_heartbeat(camera.pk, frames_per_second=2.0)

    response = client_for("operator").get("/api/cameras/")

    assert response.status_code == 200, response.json()
    cameras = {row["name"]: row for row in response.json()["results"]}

    assert cameras[quiet.name]["health"] is None
    health = cameras[camera.name]["health"]
    assert (health["frames_read"], health["frames_dropped"], health["frames_per_second"]) == (4, 1, 2.0)
    assert health["heartbeat_at"] is not None
