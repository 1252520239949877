from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from access.accounts.permissions import IsSignedByDoorController

from .. import services
from ..filtersets import DoorCommandFilterSet, DoorFilterSet, DoorGroupFilterSet
from ..models import Door, DoorCommand, DoorGroup
from .serializers import (
    DoorCommandSerializer,
    DoorGroupSerializer,
    DoorSerializer,
    HeartbeatSerializer,
    ManualOpenSerializer,
)


class DoorViewSet(viewsets.ModelViewSet):
    queryset = Door.objects.select_related("status")
    serializer_class = DoorSerializer
    filterset_class = DoorFilterSet
    action_permissions = {"open": "change"}

    @extend_schema(
        request=ManualOpenSerializer,
        responses={
            201: DoorCommandSerializer,
            503: OpenApiResponse(
                DoorCommandSerializer, description="Recorded, but the controller was not reached."
            ),
        },
    )
    @action(detail=True, methods=["post"])
    def open(self, request: Request, pk: str) -> Response:
        """Open the door now, for its open duration; the command is recorded and audited, sent or not."""
        door = self.get_object()
        body = ManualOpenSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        command = services.command_door(
            door, DoorCommand.Action.OPEN, reason=body.validated_data["reason"], user=request.user
        )
        sent = command.outcome == DoorCommand.Outcome.SENT
        return Response(
            DoorCommandSerializer(command).data,
            status=status.HTTP_201_CREATED if sent else status.HTTP_503_SERVICE_UNAVAILABLE,
        )

    @extend_schema(
        request=HeartbeatSerializer,
        responses={204: None, 403: OpenApiResponse(description="Unsigned, wrongly signed or stale.")},
        auth=[],
    )
    @action(
        detail=True,
        methods=["post"],
        authentication_classes=[],
        permission_classes=[IsSignedByDoorController],
    )
    def heartbeat(self, request: Request, pk: str) -> Response:
        """An HTTP controller's heartbeat, signed as door commands are (X-FaceGate-Timestamp, -Signature)."""
        door = self.get_object()
        body = HeartbeatSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        if body.validated_data["door"] != door.pk:
            raise ValidationError(
                {"door": f"This heartbeat is signed for door {body.validated_data['door']}."}
            )
        services.record_heartbeat(door.pk, state=body.validated_data.get("state"))
        return Response(status=status.HTTP_204_NO_CONTENT)


class DoorGroupViewSet(viewsets.ModelViewSet):
    queryset = DoorGroup.objects.prefetch_related("doors")
    serializer_class = DoorGroupSerializer
    filterset_class = DoorGroupFilterSet


class DoorCommandViewSet(viewsets.ReadOnlyModelViewSet):
    """Every command sent, or not sent, to a door controller, with why it failed when it did."""

    queryset = DoorCommand.objects.select_related("user")
    serializer_class = DoorCommandSerializer
    filterset_class = DoorCommandFilterSet
