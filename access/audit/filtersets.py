import django_filters

from .models import AuditLog


class AuditLogFilterSet(django_filters.FilterSet):
    occurred_after = django_filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    occurred_before = django_filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="lt")
    object_type = django_filters.CharFilter(
        method="filter_object_type", label="Object type, e.g. people.person"
    )

    class Meta:
        model = AuditLog
        fields = [
            "actor",
            "action",
            "source",
            "object_type",
            "object_id",
            "occurred_after",
            "occurred_before",
        ]

    def filter_object_type(self, queryset, name: str, value: str):
        app_label, _, model = value.lower().partition(".")
        return queryset.filter(content_type__app_label=app_label, content_type__model=model)
