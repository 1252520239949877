"""The change log keeps what reconnecting clients may still ask for, and forgets the rest."""

from datetime import timedelta

import pytest
from django.utils import timezone

from access.live import changes
from access.live.models import Change
from access.live.tasks import prune_changes


@pytest.mark.django_db
def test_changes_older_than_the_history_are_pruned_and_newer_ones_kept(settings):
    settings.FACEGATE_STREAM_HISTORY_HOURS = 24
    old = changes.append(Change.Topic.EVENT, 1, "created")
    recent = changes.append(Change.Topic.EVENT, 2, "created")
    Change.objects.filter(pk=old.pk).update(at=timezone.now() - timedelta(hours=25))
    Change.objects.filter(pk=recent.pk).update(at=timezone.now() - timedelta(hours=23))

    assert prune_changes() == 1
    assert list(Change.objects.values_list("pk", flat=True)) == [recent.pk]

