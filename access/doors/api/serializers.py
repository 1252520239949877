from access.core.api.serializers import ValidatedModelSerializer

from ..models import Door, DoorGroup


class DoorSerializer(ValidatedModelSerializer):
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
        ]


class DoorGroupSerializer(ValidatedModelSerializer):
    class Meta:
        model = DoorGroup
        fields = ["id", "name", "description", "doors"]
