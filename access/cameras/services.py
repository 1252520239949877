import base64
import logging

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from rest_framework.authtoken.models import Token

from access.accounts.roles import Role
from access.core.errors import Conflict
from access.core.images import DecodedImage

from .models import Camera

logger = logging.getLogger(__name__)


class CameraDisabled(Conflict):
    """Frames were posted for a camera that is switched off."""


@transaction.atomic
def issue_device_token(camera: Camera) -> str:
    """A fresh API token for the camera's device account (made on first use); older tokens stop working."""
    if camera.device_account is None:
        account, _ = get_user_model().objects.get_or_create(username=f"device-camera-{camera.pk}")
        account.set_unusable_password()
        account.save()
        account.groups.add(Group.objects.get(name=Role.DEVICE))
        camera.device_account = account
        camera.save(update_fields=["device_account"])
    Token.objects.filter(user=camera.device_account).delete()
    return Token.objects.create(user=camera.device_account).key


def submit_frame(camera: Camera, frame: DecodedImage) -> bool:
    """Hand a validated frame to the recognition pipeline; False when no pipeline is installed to take it."""
    from recognition import tasks

    if not camera.enabled:
        raise CameraDisabled(f"Camera {camera} is disabled; enable it before posting frames.")
    process_frame = getattr(tasks, "process_frame", None)
    if process_frame is None:
        logger.warning("No frame pipeline is installed; a frame from camera %s was dropped.", camera.pk)
        return False
    process_frame.delay(camera.pk, base64.b64encode(frame.data).decode("ascii"))
    return True
