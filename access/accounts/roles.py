from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import models


class Role(models.TextChoices):
    """Each role is a Django group of the same name, made with its permissions by migration 0001_roles."""

    ADMIN = "admin", "Admin: everything"
    OPERATOR = "operator", "Operator: people, watchlists, doors and alerts"
    VIEWER = "viewer", "Viewer: reads events and alerts"
    DEVICE = "device", "Device: posts frames for its own camera"


def has_role(user: AbstractBaseUser | AnonymousUser, role: Role) -> bool:
    return user.is_authenticated and user.groups.filter(name=role).exists()
