import django_filters
from django.db.models import Q, QuerySet

from .models import Consent, FaceSample, Person


class PersonFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Name or external ID contains")
    has_consent = django_filters.BooleanFilter(field_name="consent", lookup_expr="isnull", exclude=True)

    class Meta:
        model = Person
        fields = ["external_id", "status"]

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(Q(name__icontains=value) | Q(external_id__icontains=value))


class ConsentFilterSet(django_filters.FilterSet):
    class Meta:
        model = Consent
        fields = {"person": ["exact"], "method": ["exact"], "given_at": ["gte", "lte"]}


class FaceSampleFilterSet(django_filters.FilterSet):
    class Meta:
        model = FaceSample
        fields = {
            "id": ["in"],
            "person": ["exact"],
            "state": ["exact"],
            "model_version": ["exact"],
            "created_at": ["gte", "lte"],
        }
