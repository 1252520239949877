"""The database side of the workers' galleries: a change log every worker follows (`DatabaseFeed`).

Every change to what the gallery should hold (a sample enrolled, a sample deleted however it was deleted,
cascades from a person or a consent withdrawal included) bumps `GalleryHead.version` and leaves a
`GalleryChange`, in the transaction that made the change. The model signals wired in `PeopleConfig.ready`
catch every save and delete through the ORM (`QuerySet.update` and raw SQL would slip past them: a sample's
state changes only in `services.enroll_sample`). A worker compares its gallery's version with the head
before each search and only then reads what changed. Old changes are pruned (`prune_changes`, run by Celery
beat); a gallery older than them is rebuilt from a snapshot.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from .models import FaceSample, GalleryChange, GalleryHead

if TYPE_CHECKING:
    from recognition.gallery import Changes, Row

__all__ = ["DatabaseFeed", "prune_changes", "record_sample_deleted", "record_sample_saved"]

_SNAPSHOT_CHUNK = 2000
_HEAD_SQL = f"SELECT version FROM {connection.ops.quote_name(GalleryHead._meta.db_table)} WHERE id = %s"


class DatabaseFeed:
    """`recognition.gallery.GalleryFeed` over the database: enrolled FaceSample rows and their change log.

    Safe at READ COMMITTED: the head is read first, and every change up to it is committed by then; rows read
    afterwards can only be newer, and whatever made them newer is replayed at the next sync. Given a model
    version, it serves only codes that model made: another model's codes are not comparable, and those
    samples wait for re-enrollment.
    """

    def __init__(self, model_version: str | None = None) -> None:
        self.model_version = model_version

    def head(self) -> int:
        """The current version: one primary-key read (0 before the first change)."""
        # Called before every search: building the query through the ORM costs several times the read itself.
        with connection.cursor() as cursor:
            cursor.execute(_HEAD_SQL, [GalleryHead.SINGLETON_ID])
            row = cursor.fetchone()
        return 0 if row is None else row[0]

    def changes_since(self, version: int) -> Changes | None:
        """Each sample changed after `version`, as it is now; None when those changes were pruned."""
        from recognition.gallery import Changes

        head = self.head()
        if version > head:  # a gallery built from another database
            return None
        changed = GalleryChange.objects.filter(version__gt=version, version__lte=head).values("sample_id")
        touched = set(changed.values_list("sample_id", flat=True))
        adds = _rows(self._enrolled().filter(pk__in=changed))
        # Read last: a prune that committed while the log was read may have taken changes we needed.
        if version < (_head_field("pruned_through") or 0):
            return None
        enrolled = {sample_id for sample_id, _, _ in adds}
        return Changes(head, adds, sorted(touched - enrolled))

    def snapshot(self) -> tuple[int, list[Row]]:
        """Every enrolled sample with its face code, and the version they reflect (at least)."""
        head = self.head()
        return head, _rows(self._enrolled())

    def _enrolled(self):
        enrolled = FaceSample.objects.filter(state=FaceSample.State.ENROLLED)
        return enrolled if self.model_version is None else enrolled.filter(model_version=self.model_version)


def _head_field(name: str):
    """One field of the head row; None before the first change made it."""
    return GalleryHead.objects.filter(pk=GalleryHead.SINGLETON_ID).values_list(name, flat=True).first()


def _rows(samples) -> list[Row]:
    samples = samples.only("pk", "person_id", "face_code_data").order_by()
    return [(sample.pk, sample.person_id, sample.face_code) for sample in samples.iterator(_SNAPSHOT_CHUNK)]


def record_sample_saved(sender, instance: FaceSample, created: bool, **kwargs) -> None:
    """post_save: the gallery holds exactly the enrolled samples, so any other saved state is a removal."""
    if instance.state == FaceSample.State.ENROLLED:
        _record(instance, GalleryChange.Op.ADD)
    elif not created:
        _record(instance, GalleryChange.Op.REMOVE)


def record_sample_deleted(sender, instance: FaceSample, **kwargs) -> None:
    """post_delete, which Django sends for cascaded rows too: whatever its state, the sample is gone.

    Recorded even for a sample that looked pending: an enrollment may have committed after it was read.
    """
    _record(instance, GalleryChange.Op.REMOVE)


def lock_gallery() -> GalleryHead:
    """Take the gallery's write lock until the caller's transaction ends, and answer the locked head.

    Every gallery change takes it, which is what orders the versions; an enrollment takes it before its last
    look at the gallery, so that two workers cannot both enroll one face for two different people.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("lock_gallery() needs a transaction: the lock lasts until it ends")
    start = time.time_ns() // 1000
    head, _ = GalleryHead.objects.select_for_update().get_or_create(
        pk=GalleryHead.SINGLETON_ID, defaults={"version": start, "pruned_through": start}
    )
    return head


def _record(sample: FaceSample, op: GalleryChange.Op) -> None:
    with transaction.atomic(savepoint=False):
        head = lock_gallery()
        head.version += 1
        head.save(update_fields=["version"])
        GalleryChange.objects.create(
            version=head.version, sample_id=sample.pk, person_id=sample.person_id, op=op
        )


def prune_changes(keep: timedelta | None = None) -> int:
    """Forget changes older than `keep` (default FACEGATE_GALLERY_HISTORY_DAYS); returns how many went.

    A worker whose gallery is older than what is kept rebuilds it from a snapshot.
    """
    keep = timedelta(days=settings.FACEGATE_GALLERY_HISTORY_DAYS) if keep is None else keep
    old = GalleryChange.objects.filter(created_at__lt=timezone.now() - keep)
    with transaction.atomic():
        horizon = old.aggregate(version=Max("version"))["version"]
        if horizon is None:
            return 0
        head = GalleryHead.objects.select_for_update().get(pk=GalleryHead.SINGLETON_ID)
        head.pruned_through = max(head.pruned_through, horizon)
        head.save(update_fields=["pruned_through"])
        deleted, _ = GalleryChange.objects.filter(version__lte=horizon).delete()
    return deleted
