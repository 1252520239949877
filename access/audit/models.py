from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q
from django.utils import timezone


class AuditLog(models.Model):
    """One create, change or delete. `changes` maps each field to {"before": ..., "after": ...}."""

    class Action(models.TextChoices):
        CREATE = "create", "Create"
        UPDATE = "update", "Update"
        DELETE = "delete", "Delete"

    class Source(models.TextChoices):
        API = "api", "API"
        ADMIN = "admin", "Admin"

    occurred_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_name = models.CharField(max_length=150, blank=True, help_text="Kept when the account is deleted.")
    action = models.CharField(max_length=8, choices=Action)
    source = models.CharField(max_length=8, choices=Source)
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=200)
    changes = models.JSONField(default=dict, blank=True)
    client_address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-occurred_at", "-pk"]
        verbose_name = "audit log entry"
        verbose_name_plural = "audit log"
        indexes = [models.Index(fields=["content_type", "object_id"], name="auditlog_object_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(action__in=["create", "update", "delete"]), name="auditlog_action_valid"
            ),
            models.CheckConstraint(condition=Q(source__in=["api", "admin"]), name="auditlog_source_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.actor_name or 'anonymous'} {self.action}d {self.object_repr}"
