from rest_framework import serializers

from access.core.api.serializers import ValidatedModelSerializer

from .. import services
from ..models import AllowEntry, BlockEntry, MissingEntry, ScheduleWindow


class ScheduleWindowSerializer(ValidatedModelSerializer):
    class Meta:
        model = ScheduleWindow
        fields = ["weekday", "starts_at", "ends_at"]


class AllowEntrySerializer(ValidatedModelSerializer):
    schedule = ScheduleWindowSerializer(
        many=True, required=False, help_text="Weekly windows in local time; none means at any hour."
    )

    class Meta:
        model = AllowEntry
        fields = [
            "id",
            "person",
            "door",
            "door_group",
            "valid_from",
            "valid_until",
            "schedule",
            "note",
            "created_at",
        ]

    def create(self, validated_data: dict) -> AllowEntry:
        windows = validated_data.pop("schedule", [])
        entry = super().create(validated_data)
        services.replace_schedule(entry, windows)
        return entry

    def update(self, instance: AllowEntry, validated_data: dict) -> AllowEntry:
        windows = validated_data.pop("schedule", None)
        entry = super().update(instance, validated_data)
        if windows is not None:
            services.replace_schedule(entry, windows)
        return entry


class BlockEntrySerializer(ValidatedModelSerializer):
    class Meta:
        model = BlockEntry
        fields = ["id", "person", "reason", "added_by", "added_at", "expires_at"]
        read_only_fields = ["added_by"]


class MissingEntrySerializer(ValidatedModelSerializer):
    alert_recipients = serializers.ListField(child=serializers.EmailField(), required=False)

    class Meta:
        model = MissingEntry
        fields = [
            "id",
            "person",
            "case_number",
            "reporting_contact",
            "alert_recipients",
            "reported_at",
            "closed_at",
        ]
