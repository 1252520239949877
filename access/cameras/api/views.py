from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from access.accounts.permissions import IsCameraDevice
from access.core.api.serializers import ImageUploadSerializer

from .. import services
from ..filtersets import CameraFilterSet
from ..models import Camera
from .serializers import CameraSerializer, DeviceTokenSerializer, FrameAcceptedSerializer


class CameraViewSet(viewsets.ModelViewSet):
    queryset = Camera.objects.select_related("door", "device_account", "health")
    serializer_class = CameraSerializer
    filterset_class = CameraFilterSet
    action_permissions = {"device_token": "change"}

    def get_queryset(self):
        if self.action == "frames":  # several frames a second per camera: the camera row alone, no joins
            return Camera.objects.all()
        return super().get_queryset()

    @extend_schema(request=None, responses={201: DeviceTokenSerializer})
    @action(detail=True, methods=["post"], url_path="device-token")
    def device_token(self, request: Request, pk: str) -> Response:
        """Issue a new API token for the camera's device account; the previous token stops working."""
        camera = self.get_object()
        token = services.issue_device_token(camera)
        body = {"token": token, "device_account": camera.device_account.get_username()}
        return Response(DeviceTokenSerializer(body).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request={"multipart/form-data": ImageUploadSerializer, "application/json": ImageUploadSerializer},
        responses={
            202: FrameAcceptedSerializer,
            400: OpenApiResponse(description="Not an accepted image."),
            409: OpenApiResponse(description="The camera is disabled."),
        },
    )
    @action(detail=True, methods=["post"], permission_classes=[IsCameraDevice])
    def frames(self, request: Request, pk: str) -> Response:
        """Post one frame from this camera (device accounts only, for their own camera)."""
        camera = self.get_object()
        upload = ImageUploadSerializer(data=request.data)
        if not upload.is_valid():
            # Answered, not raised: raising rolls the request's transaction back, and the count with it.
            services.record_frame_stats(camera.pk, corrupt=1)
            return Response(upload.errors, status=status.HTTP_400_BAD_REQUEST)
        frame = upload.validated_data["decoded"]
        queued = services.receive_pushed_frame(camera, frame)
        body = {"camera": camera.pk, "width": frame.width, "height": frame.height, "queued": queued}
        return Response(FrameAcceptedSerializer(body).data, status=status.HTTP_202_ACCEPTED)
