"""The camera service follows the camera list, and `manage.py run_cameras` starts, reads and stops cleanly."""

import sys

import pytest

from access.cameras.models import Camera, CameraHealth
from access.cameras.stream.service import CameraService, ServiceOptions
from tests.access.cameras.video import SHOP, require_video, wait_until
from tests.conftest import start_process_group, stop_process_group, worker_environment

# The camera threads read the rows through connections of their own.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def clip_camera(door) -> Camera:
    return Camera.objects.create(
        name="Shop door", source_url=str(require_video(SHOP)), loop=True, frame_rate=5.0, door=door
    )


def health(camera: Camera) -> CameraHealth | None:
    return CameraHealth.objects.filter(camera=camera).first()


def test_the_service_follows_the_camera_list(clip_camera, frames_queue):
    service = CameraService(ServiceOptions(refresh_s=0.5))
    try:
        service.sync()
        assert list(service.workers) == [clip_camera.pk]
        wait_until(lambda: (h := health(clip_camera)) is not None and h.heartbeat_at and h.frames_sent >= 2,
                   what="a heartbeat and frames sent")
        first_worker = service.workers[clip_camera.pk]

        Camera.objects.filter(pk=clip_camera.pk).update(frame_rate=2.0)
        service.sync()
        assert service.workers[clip_camera.pk] is not first_worker
        assert not first_worker.is_running()
        assert service.workers[clip_camera.pk].config.frame_rate == 2.0

        Camera.objects.filter(pk=clip_camera.pk).update(enabled=False)
        service.sync()
        assert service.workers == {}
    finally:
        for worker in service.workers.values():
            worker.stop()

    queued = frames_queue()
    assert queued, "frames reached the broker"
    assert {frame.camera_id for frame in queued} == {clip_camera.pk}
    figures = health(clip_camera)
    assert figures.frames_read >= figures.frames_sent >= 2
    assert figures.frames_per_second > 0


def test_a_camera_with_a_bad_source_is_skipped_and_the_rest_run(clip_camera, door):
    Camera.objects.bulk_create([Camera(name="Legacy", source_url="ftp://10.0.0.5/x", door=door)])
    service = CameraService()
    try:
        service.sync()
        assert list(service.workers) == [clip_camera.pk]
    finally:
        for worker in service.workers.values():
            worker.stop()


def test_run_cameras_starts_reads_and_stops_cleanly(clip_camera, frames_queue, tmp_path):
    log = tmp_path / "run_cameras.log"
    command = [sys.executable, "manage.py", "run_cameras", "--refresh", "0.5"]
    process = start_process_group(command, worker_environment(tmp_path / "media"), log)
    try:
        wait_until(lambda: (h := health(clip_camera)) is not None and h.heartbeat_at and h.frames_sent >= 2,
                   timeout_s=120, what=f"run_cameras reading the clip; log:\n{log.read_text()}")
        Camera.objects.filter(pk=clip_camera.pk).update(enabled=False)
        wait_until(lambda: "Shop door): stopped" in log.read_text(), what="the disabled camera stopping")
    finally:
        stop_process_group(process)

    assert process.returncode == 0, log.read_text()
    assert "Camera service: stopped." in log.read_text()
    assert {frame.camera_id for frame in frames_queue()} == {clip_camera.pk}


def test_frames_from_the_service_reach_a_real_worker(clip_camera, celery_worker):
    service = CameraService()
    try:
        service.sync()
        wait_until(
            lambda: (h := health(clip_camera)) is not None and h.frames_analysed + h.frames_stale >= 3,
            timeout_s=300,
            what=f"the worker taking frames; its log ends:\n{celery_worker.log_tail()}",
        )
    finally:
        for worker in service.workers.values():
            worker.stop()

    figures = health(clip_camera)
    assert figures.frames_sent >= figures.frames_analysed + figures.frames_stale
    assert figures.heartbeat_at is not None
