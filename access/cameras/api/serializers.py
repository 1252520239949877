from rest_framework import serializers

from access.core.api.serializers import ValidatedModelSerializer

from ..models import Camera, CameraHealth


class CameraHealthSerializer(serializers.ModelSerializer):
    class Meta:
        model = CameraHealth
        exclude = ["camera"]


class CameraSerializer(ValidatedModelSerializer):
    health = CameraHealthSerializer(
        read_only=True,
        allow_null=True,
        help_text="What the camera service and the workers did with its frames; null before the first.",
    )
    effective_match_threshold = serializers.FloatField(
        read_only=True,
        help_text=(
            "The raw face-code distance threshold: match_threshold, else FACEGATE_MATCH_THRESHOLD. A camera "
            "without its own threshold uses cohort-normalised scores instead while a cohort is installed."
        ),
    )

    class Meta:
        model = Camera
        fields = [
            "id",
            "name",
            "source_url",
            "loop",
            "door",
            "enabled",
            "frame_rate",
            "min_face_size",
            "region_left",
            "region_top",
            "region_right",
            "region_bottom",
            "rescan_interval_ms",
            "match_threshold",
            "effective_match_threshold",
            "device_account",
            "health",
        ]
        read_only_fields = ["device_account"]


class DeviceTokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Shown once; send it as `Authorization: Token <token>`.")
    device_account = serializers.CharField()


class FrameAcceptedSerializer(serializers.Serializer):
    camera = serializers.IntegerField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    queued = serializers.BooleanField(help_text="False while no recognition pipeline is installed.")
