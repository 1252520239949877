import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from .roles import Role


@transaction.atomic
def create_admin(username: str, email: str = "") -> str | None:
    """Make a superuser in the admin group and return its generated password; None when it already exists."""
    user_model = get_user_model()
    if user_model.objects.filter(username=username).exists():
        return None
    password = secrets.token_urlsafe(18)
    user = user_model.objects.create_superuser(username=username, email=email, password=password)
    user.groups.add(Group.objects.get(name=Role.ADMIN))
    return password
