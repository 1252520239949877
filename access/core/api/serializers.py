import copy

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers
from rest_framework.validators import ProhibitSurrogateCharactersValidator

from access.core.api.exceptions import api_validation_error
from access.core.images import check_upload_size, decode_base64_image, decode_image


class ValidatedModelSerializer(serializers.ModelSerializer):
    """Runs the model's own validation (clean() and the database constraints) before saving, as netbox does.

    A bad value is then a 400 naming the rule, never an IntegrityError from the database.
    """

    def validate(self, attrs: dict) -> dict:
        attrs = super().validate(attrs)
        model = self.Meta.model
        # A copy, so a rejected update leaves the instance the view holds untouched.
        instance = copy.copy(self.instance) if self.instance else model()
        concrete = {field.name for field in model._meta.concrete_fields}
        for name, value in attrs.items():
            if name in concrete:
                setattr(instance, name, value)
        # Fields this serializer does not write (set by the view, or by a parent) are not the client's to fix.
        written = {field.source for field in self._writable_fields}
        try:
            instance.full_clean(
                exclude=(concrete - written) | {field.name for field in model._meta.many_to_many}
            )
        except DjangoValidationError as exc:
            raise api_validation_error(exc) from exc
        return attrs


class Base64Field(serializers.CharField):
    """Base64 text. CharField checks every character for UTF-16 surrogates, in Python: 25 ms on a 640x480
    camera frame. Base64 is ASCII, and decoding it with validate=True refuses any other character anyway."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.validators = [
            validator
            for validator in self.validators
            if not isinstance(validator, ProhibitSurrogateCharactersValidator)
        ]


class ImageUploadSerializer(serializers.Serializer):
    """A JPEG, PNG or WebP photo, as a multipart file or as base64 in JSON; validated by decoding it."""

    image = serializers.FileField(required=False, help_text="The photo as a multipart file.")
    image_base64 = Base64Field(
        required=False, help_text="The photo as base64 text, or as a data URL (data:image/jpeg;base64,...)."
    )

    def validate(self, attrs: dict) -> dict:
        given = [name for name in ("image", "image_base64") if name in attrs]
        if len(given) != 1:
            raise serializers.ValidationError(
                "Send exactly one of `image` (multipart file) or `image_base64`."
            )
        try:
            if "image" in attrs:
                upload = attrs["image"]
                check_upload_size(upload.size)
                decoded = decode_image(upload.read())
            else:
                decoded = decode_base64_image(attrs["image_base64"])
        except DjangoValidationError as exc:
            raise serializers.ValidationError({given[0]: exc.messages}) from exc
        return {"decoded": decoded}
