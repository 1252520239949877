from django.http import QueryDict
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from access.core.api.responses import decrypted_file_response
from access.core.api.serializers import ImageUploadSerializer
from access.watchlists.services import access_verdict

from .. import bulk, services
from ..filtersets import ConsentFilterSet, FaceSampleFilterSet, PersonFilterSet
from ..models import Consent, FaceSample, Person
from .serializers import (
    ConsentSerializer,
    EnrollZipResultSerializer,
    EnrollZipSerializer,
    FaceSampleSerializer,
    PersonSerializer,
    VerdictQuerySerializer,
    VerdictSerializer,
)


class PersonViewSet(viewsets.ModelViewSet):
    queryset = Person.objects.select_related("consent")
    serializer_class = PersonSerializer
    filterset_class = PersonFilterSet
    action_permissions = {"enroll_zip": "add"}

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

    @extend_schema(
        request={"multipart/form-data": EnrollZipSerializer},
        responses={
            201: EnrollZipResultSerializer,
            200: OpenApiResponse(EnrollZipResultSerializer, description="Every photo was stored before."),
            400: OpenApiResponse(
                description="Not a zip, corrupt, unsafe paths, too many or too large files: nothing stored."
            ),
        },
    )
    @action(detail=False, methods=["post"], url_path="enroll-zip", parser_classes=[MultiPartParser])
    def enroll_zip(self, request: Request) -> Response:
        """Enroll many people at once from a zip with one folder per person, named after them
        (Abdullah_Gul/1.jpg): each new person gets an external ID derived from the folder name, the consent
        stated here and the allow entries asked for; each photo becomes a sample queued to the enrollment
        workers. A photo already stored for its person is not stored again. Follow the samples at
        `samples_url` until they leave `pending`."""
        upload = EnrollZipSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        data = upload.validated_data
        doors = data.get("allow_doors", [])
        if doors and not request.user.has_perm("watchlists.add_allowentry"):
            raise PermissionDenied("Adding allow entries needs the permission to add them.")
        terms = bulk.EnrollmentTerms(
            consent_method=data["consent_method"],
            document_reference=data["document_reference"],
            doors=doors,
            recorded_by=request.user,
        )
        outcomes, people = bulk.enroll_archive(data["photos"], terms)
        result = _archive_result(outcomes, people)
        created = any(outcome.stored_now for outcome in outcomes)
        return Response(
            EnrollZipResultSerializer(result, context=self.get_serializer_context()).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


def _archive_result(outcomes: list[bulk.PhotoOutcome], people: dict[str, tuple[Person, bool]]) -> dict:
    sample_ids = [str(outcome.sample.pk) for outcome in outcomes if outcome.sample is not None]
    query = QueryDict(mutable=True)
    query["id__in"] = ",".join(sample_ids)
    return {
        "people": [
            {
                "folder": folder,
                "person": person,
                "created": created,
                "files": [outcome for outcome in outcomes if outcome.folder == folder],
            }
            for folder, (person, created) in people.items()
        ],
        "refused": [outcome for outcome in outcomes if not outcome.folder],
        "counts": {
            "files": len(outcomes),
            "queued": sum(outcome.stored_now for outcome in outcomes),
            "already_stored": sum(outcome.already_stored for outcome in outcomes),
            "refused": sum(outcome.sample is None for outcome in outcomes),
        },
        "samples_url": f"{reverse('api:facesample-list')}?{query.urlencode(safe=',')}",
    }


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
