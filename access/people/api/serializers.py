from django.urls import reverse
from rest_framework import serializers

from access.core.api.serializers import ValidatedModelSerializer
from access.doors.models import Door

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
