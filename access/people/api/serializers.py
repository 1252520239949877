from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import reverse
from rest_framework import serializers

from access.core.api.serializers import ValidatedModelSerializer
from access.doors.models import Door

from ..bulk import read_archive
from ..models import Consent, FaceSample, Person


class PersonSerializer(ValidatedModelSerializer):
    has_consent = serializers.SerializerMethodField()

    class Meta:
        model = Person
        fields = ["id", "name", "external_id", "status", "notes", "has_consent", "created_at", "updated_at"]

    def get_has_consent(self, person: Person) -> bool:
        return hasattr(person, "consent")


class ConsentSerializer(ValidatedModelSerializer):
    class Meta:
        model = Consent
        fields = ["person", "given_at", "method", "document_reference", "recorded_by"]
        read_only_fields = ["recorded_by"]

    def validate_person(self, person: Person) -> Person:
        if self.instance is not None and person != self.instance.person:
            raise serializers.ValidationError("A consent record cannot move to another person.")
        return person


class FaceSampleSerializer(serializers.ModelSerializer):
    has_face_code = serializers.SerializerMethodField()
    image_url = serializers.SerializerMethodField()

    class Meta:
        model = FaceSample
        fields = [
            "id",
            "person",
            "state",
            "rejection_reason",
            "quality",
            "model_version",
            "has_face_code",
            "width",
            "height",
            "image_url",
            "uploaded_by",
            "created_at",
            "enrolled_at",
        ]
        read_only_fields = fields

    def get_has_face_code(self, sample: FaceSample) -> bool:
        return sample.face_code_data is not None

    def get_image_url(self, sample: FaceSample) -> str:
        url = reverse("api:facesample-image", args=[sample.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request else url


class VerdictQuerySerializer(serializers.Serializer):
    door = serializers.PrimaryKeyRelatedField(queryset=Door.objects.all())
    at = serializers.DateTimeField(required=False, help_text="Default: now.")


class VerdictSerializer(serializers.Serializer):
    decision = serializers.CharField()
    reason = serializers.CharField()
    alert_kind = serializers.CharField(allow_null=True)


class EnrollZipSerializer(serializers.Serializer):
    """A zip archive of person folders (PERSON/photo.jpg), and what the operator states for all of them."""

    archive = serializers.FileField(help_text="A zip with one folder per person, named after them.")
    consent_method = serializers.ChoiceField(
        choices=Consent.Method.choices, help_text="How every person in the archive gave consent."
    )
    document_reference = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=200, help_text="Where the records are kept."
    )
    allow_doors = serializers.PrimaryKeyRelatedField(
        queryset=Door.objects.all(), many=True, required=False, help_text="Let every person through these."
    )

    def validate(self, attrs: dict) -> dict:
        upload = attrs["archive"]
        try:
            attrs["photos"] = read_archive(upload, upload.size)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"archive": exc.messages}) from exc
        return attrs


class EnrolledFileSerializer(serializers.Serializer):
    file = serializers.CharField(help_text="The file's name in the archive.")
    sample = serializers.IntegerField(source="sample.pk", allow_null=True, default=None)
    state = serializers.CharField(help_text="pending (queued), enrolled, rejected, or refused (not stored).")
    reason = serializers.CharField(help_text="Why the file was refused or the sample rejected.")
    already_stored = serializers.BooleanField(help_text="Stored by an earlier upload; not stored again.")


class EnrolledPersonSerializer(serializers.Serializer):
    folder = serializers.CharField()
    person = PersonSerializer()
    created = serializers.BooleanField()
    files = EnrolledFileSerializer(many=True)


class EnrollZipResultSerializer(serializers.Serializer):
    people = EnrolledPersonSerializer(many=True)
    refused = EnrolledFileSerializer(many=True, help_text="Files outside any person folder.")
    counts = serializers.DictField(child=serializers.IntegerField())
    samples_url = serializers.CharField(help_text="The stored samples, to follow their enrollment.")
