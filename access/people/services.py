import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from uuid import uuid4

import numpy as np
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from access.core.images import DecodedImage, rgb_pixels

from .gallery import lock_gallery
from .models import Consent, ConsentRequired, FaceSample, Person
from .overlay import overlay_bytes

if TYPE_CHECKING:
    from recognition.types import Face

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SampleAnalysis:
    """What the recognition engine made of one photo: a face code, or why the photo cannot be used."""

    code: np.ndarray | None = None
    model_version: str = ""
    quality: dict[str, float] = field(default_factory=dict)
    rejection_reason: str = ""
    # Every face found, as the pipeline saw it: kept as the sample's overlay.
    faces: Sequence["Face"] = ()


# pixels (H, W, 3 uint8 RGB) and the id of the person being enrolled -> the verdict
Analyse = Callable[[np.ndarray, int], SampleAnalysis]
# an accepted face code and the person's id, under the gallery's write lock -> a reason to reject it, or ""
Recheck = Callable[[np.ndarray, int], str]


def add_sample(
    person: Person, image: DecodedImage, uploaded_by: AbstractBaseUser | None = None
) -> FaceSample:
    """Store the photo encrypted as a pending sample and queue its enrollment once the transaction commits;
    a photo already stored for this person answers its existing sample."""
    return store_sample(person, image, uploaded_by)[0]


def store_sample(
    person: Person, image: DecodedImage, uploaded_by: AbstractBaseUser | None = None, *, enqueue: bool = True
) -> tuple[FaceSample, bool]:
    """The person's sample of this photo and whether it was stored just now.

    A new sample is stored encrypted, pending, and (with `enqueue`) its enrollment is queued once the
    transaction commits; without `enqueue` the caller enrolls it. The same bytes are stored once per person,
    so a bulk enrollment run again, or a photo uploaded twice, enrolls nothing twice.
    """
    from recognition import tasks

    if not person.has_consent:
        raise ConsentRequired(f"{person} has not consented to biometric processing; record consent first.")
    digest = hashlib.sha256(image.data).hexdigest()
    existing = FaceSample.objects.filter(person=person, content_sha256=digest).first()
    if existing is not None:
        return existing, False
    sample = FaceSample(
        person=person, width=image.width, height=image.height, content_sha256=digest, uploaded_by=uploaded_by
    )
    sample.image.save(f"{uuid4().hex}.{image.extension}", ContentFile(image.data), save=False)
    try:
        with transaction.atomic():
            sample.save()
    except IntegrityError:
        sample.image.delete(save=False)
        # The same photo stored for the person at the same moment by another request or run.
        existing = FaceSample.objects.filter(person=person, content_sha256=digest).first()
        if existing is None:
            raise
        return existing, False
    except BaseException:
        sample.image.delete(save=False)
        raise
    if enqueue:
        tasks.enroll_sample.delay_on_commit(sample.pk)
    return sample, True


def enroll_sample(
    sample_id: int, analyse: Analyse | None = None, recheck: Recheck | None = None
) -> FaceSample | None:
    """Turn a pending sample into an enrolled or rejected one, with what the pipeline saw on its photo as its
    overlay; a sample already decided is left alone.

    The slow analysis runs before the row is locked; the sample is then locked and written only if it is still
    pending, so a retried or duplicated task leaves the same result. An accepted face is looked at once more
    by `recheck`, under the gallery's write lock, against what other workers enrolled meanwhile. Answers None
    when the sample no longer exists. Without an `analyse` function (no recognition engine installed) the
    sample stays pending.
    """
    sample = FaceSample.objects.filter(pk=sample_id).first()
    if sample is None:
        return _gone(sample_id)
    if sample.state != FaceSample.State.PENDING:
        return sample
    if analyse is None:
        logger.warning("No recognition engine is installed; sample %s stays pending.", sample_id)
        return sample
    try:
        with sample.image.open() as stored:
            pixels = rgb_pixels(stored.read())
    except FileNotFoundError:
        if FaceSample.objects.filter(pk=sample_id).exists():
            raise
        return _gone(sample_id)  # deleted while we read: its file went when the deletion committed
    analysis = analyse(pixels, sample.person_id)
    overlay = ContentFile(overlay_bytes(analysis.faces)) if analysis.faces else None

    written = None
    try:
        with transaction.atomic():
            sample = FaceSample.objects.select_for_update().filter(pk=sample_id).first()
            if sample is None:
                return _gone(sample_id)
            if sample.state != FaceSample.State.PENDING:
                return sample  # a duplicate of this task decided it while we analysed
            if overlay is not None:
                sample.overlay.save(f"{uuid4().hex}.npz", overlay, save=False)
                written = sample.overlay.name
            _write_verdict(sample, analysis, recheck)
    except BaseException:
        if written:
            sample.overlay.storage.delete(written)  # its row was rolled back
        raise
    return sample


def _write_verdict(sample: FaceSample, analysis: SampleAnalysis, recheck: Recheck | None) -> None:
    """Enroll or reject the locked pending sample as the analysis (and the recheck) say."""
    rejection_reason = analysis.rejection_reason
    if not rejection_reason and recheck is not None:
        lock_gallery()
        rejection_reason = recheck(analysis.code, sample.person_id)
    if rejection_reason:
        sample.state = FaceSample.State.REJECTED
        sample.rejection_reason = rejection_reason
    else:
        sample.face_code = analysis.code
        sample.model_version = analysis.model_version
        sample.state = FaceSample.State.ENROLLED
        sample.enrolled_at = timezone.now()
    sample.quality = analysis.quality
    sample.save()  # an enrolled sample reaches the gallery's change log in this transaction


def _gone(sample_id: int) -> None:
    logger.info("Sample %s no longer exists (deleted, or consent withdrawn); nothing to enroll.", sample_id)


@transaction.atomic
def withdraw_consent(consent: Consent) -> None:
    """Consent withdrawn: every photo and face code of the person goes with it."""
    consent.person.samples.all().delete()
    consent.delete()
