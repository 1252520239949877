"""The four roles as Django groups, each holding the model permissions that make up its rights."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

FULL = ("view", "add", "change", "delete")

# Everything in these apps belongs to the admin role.
ADMIN_APPS = ("people", "watchlists", "doors", "cameras", "events", "alerts", "audit", "auth", "authtoken")

ROLE_PERMISSIONS = {
    "operator": {
        "people.person": FULL,
        "people.consent": FULL,
        "people.facesample": FULL,
        "watchlists.allowentry": FULL,
        "watchlists.schedulewindow": FULL,
        "watchlists.blockentry": FULL,
        "watchlists.missingentry": FULL,
        "doors.door": FULL,
        "doors.doorgroup": FULL,
        "alerts.alert": ("view", "change"),
        # Read-only context for the alerts an operator handles and the doors they manage.
        "events.event": ("view",),
        "cameras.camera": ("view",),
    },
    "viewer": {
        "events.event": ("view",),
        "alerts.alert": ("view",),
    },
    # A device posts frames for its own camera, which the API checks by account, not by model permission.
    "device": {},
}


def create_roles(apps, schema_editor):
    # Permissions are normally made after the last migration (post_migrate); the groups need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")

    admin, _ = Group.objects.get_or_create(name="admin")
    admin.permissions.set(Permission.objects.filter(content_type__app_label__in=ADMIN_APPS))
    for role, grants in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        permissions = []
        for model_label, actions in grants.items():
            app_label, model = model_label.split(".")
            for action in actions:
                permissions.append(
                    Permission.objects.get(content_type__app_label=app_label, codename=f"{action}_{model}")
                )
        group.permissions.set(permissions)


def delete_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=["admin", *ROLE_PERMISSIONS]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("authtoken", "0004_alter_tokenproxy_options"),
        ("people", "0001_initial"),
        ("watchlists", "0001_initial"),
        ("doors", "0001_initial"),
        ("cameras", "0001_initial"),
        ("events", "0001_initial"),
        ("alerts", "0001_initial"),
        ("audit", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_roles, delete_roles)]
