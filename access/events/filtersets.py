import django_filters

from .models import Event


class EventFilterSet(django_filters.FilterSet):
    occurred_after = django_filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    occurred_before = django_filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="lt")
    unknown_person = django_filters.BooleanFilter(field_name="person", lookup_expr="isnull")

    class Meta:
        model = Event
        fields = [
            "camera",
            "door",
            "person",
            "decision",
            "occurred_after",
            "occurred_before",
            "unknown_person",
        ]
