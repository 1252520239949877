"""The roles' rights on door commands and statuses, which came after the roles (accounts 0001_roles)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GRANTS = {
    "admin": {"doorcommand": ("view", "add", "change", "delete"), "doorstatus": ("view", "add", "change", "delete")},
    "operator": {"doorcommand": ("view",), "doorstatus": ("view",)},
}


def grant(apps, schema_editor):
    # Permissions are normally made after the last migration (post_migrate); the groups need them now.
    app_config = apps.get_app_config("doors")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, models in GRANTS.items():
        group = Group.objects.filter(name=role).first()
        if group is None:
            continue
        codenames = [f"{action}_{model}" for model, actions in models.items() for action in actions]
        group.permissions.add(*Permission.objects.filter(content_type__app_label="doors", codename__in=codenames))


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    for group in apps.get_model("auth", "Group").objects.filter(name__in=GRANTS):
        group.permissions.remove(
            *Permission.objects.filter(content_type__app_label="doors", content_type__model__in=["doorcommand", "doorstatus"])
        )


class Migration(migrations.Migration):
    dependencies = [
        ("doors", "0003_commands_status_heartbeats"),
        ("accounts", "0001_roles"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
