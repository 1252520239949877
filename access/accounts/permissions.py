"""The API's permission rules, defined once and set as REST_FRAMEWORK defaults (netbox's shape).

Roles grant Django model permissions, so the API and the admin enforce the same rights.
"""

from django.conf import settings
from rest_framework.permissions import BasePermission, DjangoModelPermissions

from access.doors.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, BadSignature, verify

from .roles import Role, has_role


class RolePermissions(DjangoModelPermissions):
    """Django model permissions, where reading also needs the `view` permission.

    A custom action names the permission it needs in the viewset's `action_permissions`
    (e.g. {"acknowledge": "change"}); otherwise the HTTP method decides.
    """

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
    }

    def has_permission(self, request, view) -> bool:
        kind = getattr(view, "action_permissions", {}).get(getattr(view, "action", None))
        if kind is None:
            return super().has_permission(request, view)
        if not request.user or not request.user.is_authenticated:
            return False
        model_meta = self._queryset(view).model._meta
        return request.user.has_perm(f"{model_meta.app_label}.{kind}_{model_meta.model_name}")


class IsCameraDevice(BasePermission):
    """Only a device account, and only for the camera it is bound to."""

    message = "Only the device account bound to this camera may post its frames."

    def has_permission(self, request, view) -> bool:
        return has_role(request.user, Role.DEVICE)

    def has_object_permission(self, request, view, obj) -> bool:
        return obj.device_account_id == request.user.pk


class IsSignedByDoorController(BasePermission):
    """A door controller holds no account: its request body is signed with the doors' HMAC secret."""

    message = "Sign the body with FACEGATE_DOOR_HMAC_SECRET (X-FaceGate-Timestamp and X-FaceGate-Signature)."

    def has_permission(self, request, view) -> bool:
        try:
            verify(
                settings.FACEGATE_DOOR_HMAC_SECRET,
                request.headers.get(TIMESTAMP_HEADER, ""),
                request.headers.get(SIGNATURE_HEADER, ""),
                request.body,
                settings.FACEGATE_DOOR_HMAC_MAX_AGE_S,
            )
        except BadSignature as exc:
            self.message = str(exc)
            return False
        return True
