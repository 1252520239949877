"""A worker process warms the engine up before its first frame: models loaded and run on a real photo, the
cohort read and the gallery synced; the real worker does it as its pool process starts."""

import time

import pytest

from recognition import tasks

from .conftest import KATIE, enrolled

WAIT_S = 180  # the session's worker may still be loading the engine on a shared CPU
WARMED_UP = "Recognition engine warmed up"


def test_warming_up_syncs_the_gallery_with_the_enrolled_faces(db, monkeypatch):
    katie = enrolled("Katie Hill", KATIE)
    monkeypatch.setattr(tasks.RecognitionTask, "_gallery", None)  # as a process that has just started

    tasks.warm_up(tasks.process_frame)

    gallery = tasks.RecognitionTask._gallery
    assert gallery is not None and len(gallery) == 1
    [found] = gallery.identify(katie.samples.get().face_code[None], threshold=0.1)
    assert [match.person_id for match in found.matches] == [katie.pk]


def test_the_worker_warms_its_pool_process_up_when_it_starts(celery_worker):
    deadline = time.monotonic() + WAIT_S
    while WARMED_UP not in (log := celery_worker.log.read_text(errors="replace")):
        failed = "Warming the recognition engine up failed" in log
        if failed or time.monotonic() > deadline:
            why = "the warm-up failed" if failed else f"no warm-up within {WAIT_S} s"
            pytest.fail(f"{why}; the worker log ends:\n{celery_worker.log_tail()}", pytrace=False)
        time.sleep(0.5)
