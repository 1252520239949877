import json
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils.crypto import salted_hmac

from .context import AuditContext
from .models import AuditLog

# Audited: every FaceGate app, and the accounts, roles and tokens that grant access.
AUDITED_APP_LABELS = {
    "people",
    "watchlists",
    "doors",
    "cameras",
    "events",
    "alerts",
    "auth",
    "authtoken",
}
# Bookkeeping that changes on its own (every login, every save) and would bury real changes.
IGNORED_FIELDS = {"last_login", "updated_at"}
SECRET_FIELD_NAMES = {"password", "key"}

Changes = dict[str, dict[str, Any]]


def is_audited(model: type[models.Model]) -> bool:
    return model._meta.app_label in AUDITED_APP_LABELS and model is not AuditLog


def _is_secret(field: models.Field) -> bool:
    return isinstance(field, models.BinaryField) or field.name in SECRET_FIELD_NAMES


def _redacted(value: Any) -> str | None:
    """A keyed digest: shows that a secret changed without revealing it."""
    if value in (None, b"", ""):
        return None
    return (
        "redacted:"
        + salted_hmac(
            "facegate.audit", bytes(value) if isinstance(value, bytes | memoryview) else str(value)
        ).hexdigest()[:12]
    )


def object_identity(instance: models.Model) -> tuple[str, str]:
    """The (id, repr) to log; a secret primary key (an API token) is logged only as its digest."""
    if _is_secret(instance._meta.pk):
        digest = _redacted(instance.pk) or ""
        return digest, f"{instance._meta.verbose_name} {digest}"
    return str(instance.pk), str(instance)[:200]


def many_to_many_value(instance: models.Model, field: models.ManyToManyField) -> list:
    return sorted(getattr(instance, field.name).values_list("pk", flat=True))


def snapshot(instance: models.Model) -> dict[str, Any]:
    """The instance's fields as JSON values: foreign keys as ids, files as names, secrets as digests."""
    values: dict[str, Any] = {}
    for field in instance._meta.concrete_fields:
        if field.name in IGNORED_FIELDS:
            continue
        value = field.value_from_object(instance)
        if _is_secret(field):
            value = _redacted(value)
        elif isinstance(field, models.FileField):
            value = value.name or None
        values[field.name] = value
    if instance.pk is not None:
        for field in instance._meta.many_to_many:
            values[field.name] = many_to_many_value(instance, field)
    return json.loads(json.dumps(values, cls=DjangoJSONEncoder))


def diff(before: dict[str, Any] | None, after: dict[str, Any] | None) -> Changes:
    before, after = before or {}, after or {}
    return {
        name: {"before": before.get(name), "after": after.get(name)}
        for name in dict.fromkeys([*before, *after])  # model field order
        if before.get(name) != after.get(name)
    }


def record(
    *,
    action: AuditLog.Action,
    instance: models.Model,
    changes: Changes,
    source: AuditLog.Source,
    actor: AbstractBaseUser | None = None,
    client_address: str | None = None,
) -> AuditLog:
    object_id, object_repr = object_identity(instance)
    return AuditLog.objects.create(
        action=action,
        content_type=ContentType.objects.get_for_model(instance),
        object_id=object_id,
        object_repr=object_repr,
        changes=changes,
        source=source,
        actor=actor,
        actor_name=actor.get_username() if actor else "",
        client_address=client_address,
    )


def record_in_context(
    context: AuditContext, action: AuditLog.Action, instance: models.Model, changes: Changes
) -> AuditLog | None:
    """Record a change made in an audited request; changes to one object in one request make one entry."""
    key = (instance._meta.label, str(instance.pk))
    earlier = context.entries.get(key)
    if earlier is not None and action == AuditLog.Action.UPDATE:
        merged = {**earlier.changes}
        for name, change in changes.items():
            first_before = merged[name]["before"] if name in merged else change["before"]
            merged[name] = {"before": first_before, "after": change["after"]}
        earlier.changes = {
            name: change for name, change in merged.items() if change["before"] != change["after"]
        }
        earlier.save(update_fields=["changes"])
        return earlier
    if action == AuditLog.Action.UPDATE and not changes:
        return None
    user = getattr(context.request, "user", None)
    entry = record(
        action=action,
        instance=instance,
        changes=changes,
        source=context.source,
        actor=user if user is not None and user.is_authenticated else None,
        client_address=context.request.META.get("REMOTE_ADDR") or None,
    )
    context.entries[key] = entry
    return entry
