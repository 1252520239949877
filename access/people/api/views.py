from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from access.core.api.responses import decrypted_file_response
from access.core.api.serializers import ImageUploadSerializer
from access.watchlists.services import access_verdict

from .. import services
from ..filtersets import ConsentFilterSet, FaceSampleFilterSet, PersonFilterSet
from ..models import Consent, FaceSample, Person
from .serializers import (
    ConsentSerializer,
    FaceSampleSerializer,
    PersonSerializer,
    VerdictQuerySerializer,
    VerdictSerializer,
)


class PersonViewSet(viewsets.ModelViewSet):
    queryset = Person.objects.select_related("consent")
    serializer_class = PersonSerializer
    filterset_class = PersonFilterSet

    @extend_schema(parameters=[VerdictQuerySerializer], responses=VerdictSerializer)
    @action(detail=True, methods=["get"], url_path="access-verdict")
    def access_verdict(self, request: Request, pk: str) -> Response:
        """Would this person pass this door now (or at `at`), and why."""
        query = VerdictQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        verdict = access_verdict(
            self.get_object(), query.validated_data["door"], query.validated_data.get("at")
        )
        return Response(VerdictSerializer(verdict).data)


class ConsentViewSet(viewsets.ModelViewSet):
    """Consent records; deleting one withdraws consent and erases the person's photos and face codes."""

    queryset = Consent.objects.select_related("person")
    serializer_class = ConsentSerializer
    filterset_class = ConsentFilterSet

    def perform_create(self, serializer: ConsentSerializer) -> None:
        serializer.save(recorded_by=self.request.user)

    def perform_destroy(self, instance: Consent) -> None:
        services.withdraw_consent(instance)


class FaceSampleViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    """Enrollment photos. Upload at /api/people/{id}/samples/; the image itself only through `image`."""

    serializer_class = FaceSampleSerializer
    filterset_class = FaceSampleFilterSet

    def get_queryset(self):
        samples = FaceSample.objects.all()
        if "person_pk" in self.kwargs:
            samples = samples.filter(person_id=self.kwargs["person_pk"])
        return samples

    def list(self, request: Request, *args, **kwargs) -> Response:
        if "person_pk" in kwargs:
            get_object_or_404(Person, pk=kwargs["person_pk"])
        return super().list(request, *args, **kwargs)

    @extend_schema(
        request={"multipart/form-data": ImageUploadSerializer, "application/json": ImageUploadSerializer},
        responses={
            201: FaceSampleSerializer,
            400: OpenApiResponse(
                description="Not an accepted image: corrupt, truncated, too large, wrong format."
            ),
            409: OpenApiResponse(description="The person has not consented."),
        },
    )
    def upload(self, request: Request, person_pk: int) -> Response:
        """Upload a JPEG, PNG or WebP photo: stored encrypted as a pending sample, queued for enrollment."""
        person = get_object_or_404(Person, pk=person_pk)
        upload = ImageUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        sample = services.add_sample(person, upload.validated_data["decoded"], uploaded_by=request.user)
        return Response(self.get_serializer(sample).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={(200, "image/*"): OpenApiResponse(description="The photo, decrypted.")})
    @action(detail=True, methods=["get"])
    def image(self, request: Request, pk: str):
        return decrypted_file_response(self.get_object().image)
