from django.urls import reverse
from rest_framework import serializers

from ..models import Event


class EventSerializer(serializers.ModelSerializer):
    snapshot_url = serializers.SerializerMethodField()

    class Meta:
        model = Event
        fields = [
            "id",
            "occurred_at",
            "camera",
            "door",
            "person",
            "distance",
            "decision",
            "reason",
            "snapshot_url",
        ]
        read_only_fields = fields

    def get_snapshot_url(self, event: Event) -> str | None:
        if not event.snapshot:
            return None
        url = reverse("api:event-snapshot", args=[event.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request else url
