"""Celery tasks: thin wrappers that take primary keys and call plain functions.

The only place the recognition package reaches the ORM; the access apps are imported inside each task body,
so importing this module loads no Django models (nor torch: the engine loads on first use).
"""

from __future__ import annotations

import base64
import logging
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from celery import shared_task
from celery.contrib.django.task import DjangoTask
from celery.signals import task_postrun, task_prerun, worker_init, worker_process_init
from django.conf import settings
from django.db import InterfaceError, OperationalError, close_old_connections

if TYPE_CHECKING:
    from access.people.cohort import InstalledCohort
    from access.people.gallery import DatabaseFeed
    from access.people.services import SampleAnalysis
    from recognition.gallery import Gallery, Identification
    from recognition.operating_point import Scoring
    from recognition.pipeline import Engine, SearchArea
    from recognition.types import Face

logger = logging.getLogger(__name__)

# A lost database connection or a deadlock victim is worth another try; a missing row or bad data is not.
TRANSIENT_DB_ERRORS = (OperationalError, InterfaceError)
GALLERY_FILE_NAME = "gallery.enc"  # in FACEGATE_GALLERY_DIR
# A process that starts from a saved gallery older than this, and has to catch up, saves it anew.
RESAVE_AFTER_S = 3600


class RecognitionTask(DjangoTask):
    """Base of the tasks that use the engine, the gallery and the cohort: each made once per worker process,
    on first use.

    Celery makes one instance of each task per process; the engine, the gallery and the cohort are held by the
    class, so every recognition task of a process shares them.
    """

    _gallery: Gallery | None = None
    _gallery_lock = threading.Lock()
    _cohort: InstalledCohort | None = None
    _cohort_lock = threading.Lock()

    def __call__(self, *args, **kwargs):
        # The task's own core(s) for its whole run: its model stages borrow only the cores no task holds.
        with self.engine.task():
            return super().__call__(*args, **kwargs)

    @property
    def engine(self) -> Engine:
        from recognition.pipeline import engine

        return engine()

    def synced_gallery(self) -> Gallery:
        """The process's gallery, up to date with the database: one indexed read when nothing changed."""
        from access.people.gallery import DatabaseFeed

        feed = DatabaseFeed(self.engine.model_version)
        with RecognitionTask._gallery_lock:
            if RecognitionTask._gallery is None:
                RecognitionTask._gallery = open_gallery(
                    Path(settings.FACEGATE_GALLERY_DIR) / GALLERY_FILE_NAME, feed
                )
        RecognitionTask._gallery.sync(feed)
        return RecognitionTask._gallery

    def scoring(self, camera_threshold: float | None = None) -> Scoring:
        """How to score faces seen by a camera with this threshold of its own (None: it has none), with the
        process's cohort, read again when `manage.py build_cohort` replaces it."""
        from access.people.cohort import InstalledCohort
        from recognition.operating_point import scoring_for

        with RecognitionTask._cohort_lock:
            if RecognitionTask._cohort is None:
                RecognitionTask._cohort = InstalledCohort()
        engine = self.engine
        return scoring_for(
            camera_threshold,
            RecognitionTask._cohort.get(engine.model_version),
            default_threshold=engine.config.match_threshold,
            cohort_threshold=engine.config.cohort_threshold,
        )


def open_gallery(path: Path, feed: DatabaseFeed) -> Gallery:
    """The gallery saved at `path` caught up with `feed`, or built from `feed` when none is saved there.

    The file holds face codes, so it is encrypted like every stored code.
    """
    from access.core.crypto import DecryptionError, read_encrypted, write_encrypted
    from recognition.gallery import Gallery

    gallery, recent = Gallery(), False
    if path.is_file():
        try:
            gallery = Gallery.from_bytes(read_encrypted(path))
            recent = time.time() - path.stat().st_mtime < RESAVE_AFTER_S
        except (OSError, ValueError, DecryptionError) as error:
            logger.warning("Building the gallery from the database: %s: %s", path, error)
    if gallery.sync(feed) and not recent:
        write_encrypted(path, gallery.to_bytes())
    return gallery


def analyse_sample(engine: Engine, gallery: Gallery, pixels: np.ndarray, person_id: int) -> SampleAnalysis:
    """An enrollment photo's face code and quality figures, or why it cannot be enrolled for `person_id`."""
    from access.people.services import SampleAnalysis

    enrollment = engine.analyse_enrollment(pixels, gallery, person_id)
    figures = enrollment.verdict.figures
    if not enrollment.verdict.accepted:
        return SampleAnalysis(
            quality=figures, rejection_reason=enrollment.verdict.rejection_reason, faces=enrollment.faces
        )
    return SampleAnalysis(
        code=enrollment.code, model_version=engine.model_version, quality=figures, faces=enrollment.faces
    )


def identify(
    image: np.ndarray,
    engine: Engine,
    gallery: Gallery,
    scoring: Scoring,
    min_face_size: int | None = None,
    areas: Sequence[SearchArea] | None = None,
) -> list[tuple[Face, Identification]]:
    """Every face of an RGB image (or only those centred in `areas`), with the enrolled persons it matches
    under `scoring`; sync first."""
    faces = (
        engine.analyse(image, min_face_size)
        if areas is None
        else engine.analyse_areas(image, areas, min_face_size)
    )
    if not faces:
        return []
    codes = np.stack([face.code for face in faces])
    identifications = gallery.identify(codes, scoring.threshold, normaliser=scoring.normaliser)
    return list(zip(faces, identifications, strict=True))


@shared_task(bind=True)
def ping(self) -> dict[str, str | int]:
    """Answer with the worker's name and process id, so a caller can tell which process ran it."""
    return {"pong": "ok", "worker": self.request.hostname, "pid": os.getpid()}


@shared_task(
    base=RecognitionTask,
    bind=True,
    acks_late=True,
    autoretry_for=TRANSIENT_DB_ERRORS,
    retry_backoff=2,
    retry_backoff_max=120,
    retry_jitter=True,
    max_retries=6,
    soft_time_limit=120,
    time_limit=150,
)
def enroll_sample(self: RecognitionTask, sample_id: int) -> str | None:
    """Compute and store the face code of one FaceSample; running it twice leaves the same result.

    Answers the sample's state afterwards, or None when the sample no longer exists.
    """
    from access.people.services import enroll_sample as enroll

    def analyse(pixels: np.ndarray, person_id: int) -> SampleAnalysis:
        return analyse_sample(self.engine, self.synced_gallery(), pixels, person_id)

    def recheck(code: np.ndarray, person_id: int) -> str:
        return self.engine.conflict_reason(self.synced_gallery(), code, person_id)

    sample = enroll(sample_id, analyse, recheck)
    return None if sample is None else sample.state


@shared_task(base=RecognitionTask, bind=True, soft_time_limit=30, time_limit=40)
def identify_image(self: RecognitionTask, image_base64: str) -> list[dict]:
    """Who is in a photo: each face's box and the enrolled persons it matches under the default scoring (the
    cohort's while one is installed), best first."""
    from access.core.images import rgb_pixels

    pixels = rgb_pixels(base64.b64decode(image_base64, validate=True))
    found = identify(pixels, self.engine, self.synced_gallery(), self.scoring())
    return [
        {
            "box": [float(edge) for edge in face.box],
            "matches": [
                {
                    "person_id": match.person_id,
                    "sample_id": match.sample_id,
                    "distance": match.distance,
                    "score": match.score,
                }
                for match in identification.matches
            ],
        }
        for face, identification in found
    ]


@shared_task(
    base=RecognitionTask,
    bind=True,
    acks_late=True,
    autoretry_for=TRANSIENT_DB_ERRORS,
    retry_backoff=True,
    retry_backoff_max=2,
    max_retries=3,  # a retry past FACEGATE_MAX_FRAME_AGE_S only counts the frame stale
    soft_time_limit=10,
    time_limit=15,
    ignore_result=True,  # several frames a second per camera: their outcome is in the events and counters
)
def process_frame(
    self: RecognitionTask, camera_id: int, frame_b64: str, captured_at: float, frame_id: str
) -> dict:
    """Decide on one camera frame (base64 JPEG): the event ids it wrote and the milliseconds per stage.

    Idempotent: a retried or duplicated frame writes no second event and sends no second door command.
    """
    from access.decisions.services import process_frame as decide_frame

    stages: dict[str, float] = {}
    events = decide_frame(
        camera_id,
        base64.b64decode(frame_b64),
        captured_at,
        frame_id,
        engine=self.engine,
        gallery=self.synced_gallery(),
        scoring=self.scoring,
        stages=stages,
    )
    stages_ms = {stage: round(seconds * 1000, 1) for stage, seconds in stages.items()}
    logger.debug("Frame %s of camera %s: events %s, ms per stage %s", frame_id, camera_id, events, stages_ms)
    return {"events": [event.pk for event in events], "stages_ms": stages_ms}


def warm_up(task: RecognitionTask) -> None:
    """Make a worker process ready for its first frame: load the models, run them once on a real 640x480
    frame (the demo's public-domain NASA portrait, shipped with scikit-image) over the whole frame and around
    its face, read the cohort and sync the gallery, so the first frame after a restart is as fast as the next.
    """
    from skimage import data

    from recognition.pipeline import SearchArea

    portrait = np.ascontiguousarray(np.pad(data.astronaut(), ((0, 0), (64, 64), (0, 0)), mode="edge")[:480])
    engine = task.engine
    faces = engine.analyse(portrait)
    areas = [SearchArea(face.box, face_width=face.width) for face in faces]
    engine.analyse_areas(portrait, areas or [SearchArea((0, 0, portrait.shape[1], portrait.shape[0]))])
    task.scoring()
    task.synced_gallery()


@task_prerun.connect(dispatch_uid="facegate.recognition.close_old_connections_before")
@task_postrun.connect(dispatch_uid="facegate.recognition.close_old_connections_after")
def _close_old_connections(sender=None, **_kwargs) -> None:
    # Tasks keep their database connection between them (CELERY_DB_REUSE_MAX) until it breaks or grows old.
    # A task applied eagerly runs inside its caller's connection (and transaction), which is not the task's to
    # close, as Celery's Django fixup also leaves it.
    if not getattr(getattr(sender, "request", None), "is_eager", False):
        close_old_connections()


@worker_init.connect(dispatch_uid="facegate.recognition.warm_up_pool_processes")
def _warm_up_pool_processes(**_kwargs) -> None:
    # Connected as the worker starts, so that it runs after the handler Celery's Django fixup connects then,
    # which drops the database connections a pool process inherits: the warm-up opens its own.
    worker_process_init.connect(
        _warm_up_pool_process, dispatch_uid="facegate.recognition.warm_up", weak=False
    )


def _warm_up_pool_process(**_kwargs) -> None:
    started = time.perf_counter()
    try:
        warm_up(process_frame)
    except Exception:  # a worker that could not warm up still works, its first frame is merely slow
        logger.exception("Warming the recognition engine up failed; it loads on the first frame instead.")
        return
    logger.info("Recognition engine warmed up in %.1f s.", time.perf_counter() - started)


@shared_task
def prune_gallery_changes() -> int:
    """Celery beat, hourly: forget gallery changes past FACEGATE_GALLERY_HISTORY_DAYS."""
    from access.people.gallery import prune_changes

    return prune_changes()
