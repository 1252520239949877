from rest_framework import serializers

from ..models import AuditLog


class AuditLogSerializer(serializers.ModelSerializer):
    object_type = serializers.SerializerMethodField()

    class Meta:
        model = AuditLog
        fields = [
            "id",
            "occurred_at",
            "actor",
            "actor_name",
            "action",
            "source",
            "object_type",
            "object_id",
            "object_repr",
            "changes",
            "client_address",
        ]
        read_only_fields = fields

    def get_object_type(self, entry: AuditLog) -> str:
        return f"{entry.content_type.app_label}.{entry.content_type.model}"
