from rest_framework import viewsets

from ..filtersets import AllowEntryFilterSet, BlockEntryFilterSet, MissingEntryFilterSet
from ..models import AllowEntry, BlockEntry, MissingEntry
from .serializers import AllowEntrySerializer, BlockEntrySerializer, MissingEntrySerializer


class AllowEntryViewSet(viewsets.ModelViewSet):
    queryset = AllowEntry.objects.prefetch_related("schedule")
    serializer_class = AllowEntrySerializer
    filterset_class = AllowEntryFilterSet


class BlockEntryViewSet(viewsets.ModelViewSet):
    queryset = BlockEntry.objects.all()
    serializer_class = BlockEntrySerializer
    filterset_class = BlockEntryFilterSet

    def perform_create(self, serializer: BlockEntrySerializer) -> None:
        serializer.save(added_by=self.request.user)


class MissingEntryViewSet(viewsets.ModelViewSet):
    queryset = MissingEntry.objects.all()
    serializer_class = MissingEntrySerializer
    filterset_class = MissingEntryFilterSet
