"""`manage.py create_admin`: a superuser in the admin group, with a generated password printed once."""

import re
from io import StringIO

from django.contrib.auth import get_user_model
from django.core.management import call_command


def _run(*args: str) -> str:
    out = StringIO()
    call_command("create_admin", *args, stdout=out)
    return out.getvalue()


def test_creates_the_admin_once(db):
    first = _run()
    password = re.search(r"with password: (\S+)", first).group(1)

    user = get_user_model().objects.get(username="admin")
    assert user.is_superuser and user.is_staff
    assert user.groups.filter(name="admin").exists()
    assert user.check_password(password)
    assert len(password) >= 20

    second = _run()
    assert "already exists" in second
    assert password not in second
    assert get_user_model().objects.get(username="admin").check_password(password)


def test_each_installation_gets_its_own_password(db):
    first = re.search(r"with password: (\S+)", _run("--username", "one")).group(1)
    second = re.search(r"with password: (\S+)", _run("--username", "two")).group(1)

    assert first != second


def test_roles_exist_as_groups(db):
    from django.contrib.auth.models import Group

    assert set(Group.objects.values_list("name", flat=True)) >= {"admin", "operator", "viewer", "device"}
