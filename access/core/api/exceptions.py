from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from access.core.errors import Conflict


class ConflictError(exceptions.APIException):
    status_code = 409
    default_detail = "The request conflicts with the current state."
    default_code = "conflict"


def api_validation_error(exc: DjangoValidationError) -> exceptions.ValidationError:
    """A model's ValidationError in DRF's shape: errors by field, the rest under `non_field_errors`."""
    errors = serializers.as_serializer_error(exc)
    if NON_FIELD_ERRORS in errors:
        errors[api_settings.NON_FIELD_ERRORS_KEY] = errors.pop(NON_FIELD_ERRORS)
    return exceptions.ValidationError(errors)


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF's handler, taught the domain's errors: Django ValidationError is 400, Conflict is 409."""
    if isinstance(exc, DjangoValidationError):
        exc = api_validation_error(exc)
    elif isinstance(exc, Conflict):
        exc = ConflictError(str(exc))
    return drf_exception_handler(exc, context)
