"""Model signal receivers that write the audit trail for changes made inside an audited request."""

from django.db import models

from .context import current_context
from .models import AuditLog
from .services import diff, is_audited, many_to_many_value, record_in_context, snapshot


def _key(instance: models.Model) -> tuple[str, str]:
    return instance._meta.label, str(instance.pk)


def remember_before_save(sender, instance: models.Model, raw: bool = False, **kwargs) -> None:
    context = current_context.get()
    if context is None or raw or not is_audited(sender) or instance._state.adding:
        return
    stored = sender._base_manager.filter(pk=instance.pk).first()
    if stored is not None:
        context.before.setdefault(_key(instance), snapshot(stored))


def record_save(sender, instance: models.Model, created: bool, raw: bool = False, **kwargs) -> None:
    context = current_context.get()
    if context is None or raw or not is_audited(sender):
        return
    before = context.before.pop(_key(instance), None)
    action = AuditLog.Action.CREATE if created else AuditLog.Action.UPDATE
    record_in_context(context, action, instance, diff(before, snapshot(instance)))


def remember_before_delete(sender, instance: models.Model, **kwargs) -> None:
    context = current_context.get()
    if context is not None and is_audited(sender):
        context.before[_key(instance)] = snapshot(instance)


def record_delete(sender, instance: models.Model, **kwargs) -> None:
    context = current_context.get()
    if context is None or not is_audited(sender):
        return
    before = context.before.pop(_key(instance), None) or snapshot(instance)
    record_in_context(context, AuditLog.Action.DELETE, instance, diff(before, None))


def record_many_to_many(sender, instance: models.Model, action: str, reverse: bool, **kwargs) -> None:
    """Changes to a many-to-many field, as edited from the model that declares it."""
    context = current_context.get()
    if context is None or reverse or not is_audited(type(instance)):
        return
    field = next(f for f in instance._meta.many_to_many if f.remote_field.through is sender)
    key = (*_key(instance), field.name)
    if action.startswith("pre_"):
        context.before.setdefault(key, {field.name: many_to_many_value(instance, field)})
    elif action.startswith("post_"):
        before = context.before.pop(key, None)
        after = {field.name: many_to_many_value(instance, field)}
        record_in_context(context, AuditLog.Action.UPDATE, instance, diff(before, after))
