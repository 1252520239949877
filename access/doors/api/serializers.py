from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from access.core.api.serializers import ValidatedModelSerializer

from ..models import Door, DoorCommand, DoorGroup, DoorStatus, LockState


class DoorStatusSerializer(serializers.ModelSerializer):
    online = serializers.BooleanField(
        allow_null=True,
        help_text="Controller heard within its heartbeat timeout; null for a door not watched.",
    )
    fail_mode_active = serializers.BooleanField()

    class Meta:
        model = DoorStatus
        fields = [
            "online",
            "last_heartbeat_at",
            "state",
            "state_at",
            "fail_mode_active",
            "fail_mode_since",
            "controller_offline_since",
            "pipeline_down_since",
        ]


class DoorSerializer(ValidatedModelSerializer):
    status = serializers.SerializerMethodField()

    class Meta:
        model = Door
        fields = [
            "id",
            "name",
            "location",
            "controller_kind",
            "mqtt_topic",
            "http_url",
            "open_seconds",
            "fail_mode",
            "heartbeat_timeout_seconds",
            "grant_frames",
            "window_frames",
            "window_seconds",
            "cooldown_seconds",
            "missing_person_policy",
            "status",
        ]

    @extend_schema_field(DoorStatusSerializer)
    def get_status(self, door: Door) -> dict:
        status = getattr(door, "status", None) or DoorStatus(door=door)
        status.online = door.controller_online(timezone.now())
        return DoorStatusSerializer(status).data


class DoorGroupSerializer(ValidatedModelSerializer):
    class Meta:
        model = DoorGroup
        fields = ["id", "name", "description", "doors"]


class DoorCommandSerializer(serializers.ModelSerializer):
    user = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = DoorCommand
        fields = [
            "id",
            "command_id",
            "door",
            "door_name",
            "action",
            "reason",
            "event",
            "user",
            "controller_kind",
            "target",
            "outcome",
            "error",
            "attempts",
            "requested_at",
            "completed_at",
        ]
        read_only_fields = fields


class ManualOpenSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=300, help_text="Why the door is opened by hand (audited).")


class HeartbeatSerializer(serializers.Serializer):
    door = serializers.IntegerField(help_text="The door's id, as in the URL: a signed body names its door.")
    state = serializers.ChoiceField(choices=LockState.choices, required=False)
