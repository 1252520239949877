from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "access.audit"
    label = "audit"
    verbose_name = "Audit"

    def ready(self) -> None:
        from django.db.models import signals as model_signals

        from . import signals

        model_signals.pre_save.connect(signals.remember_before_save, dispatch_uid="audit.pre_save")
        model_signals.post_save.connect(signals.record_save, dispatch_uid="audit.post_save")
        model_signals.pre_delete.connect(signals.remember_before_delete, dispatch_uid="audit.pre_delete")
        model_signals.post_delete.connect(signals.record_delete, dispatch_uid="audit.post_delete")
        model_signals.m2m_changed.connect(signals.record_many_to_many, dispatch_uid="audit.m2m_changed")
