from rest_framework import viewsets

from ..filtersets import AuditLogFilterSet
from ..models import AuditLog
from .serializers import AuditLogSerializer


class AuditLogViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = AuditLog.objects.select_related("content_type")
    serializer_class = AuditLogSerializer
    filterset_class = AuditLogFilterSet
