"""The request an audited change is made in, kept for the duration of that request only."""

from contextvars import ContextVar
from dataclasses import dataclass, field

from django.http import HttpRequest

from .models import AuditLog


@dataclass
class AuditContext:
    request: HttpRequest
    source: AuditLog.Source
    # State of an object before a save or delete, keyed by (model label, pk), until the change is recorded.
    before: dict[tuple[str, ...], dict] = field(default_factory=dict)
    # Entries already written in this request: later changes to the same object merge into them.
    entries: dict[tuple[str, str], AuditLog] = field(default_factory=dict)


current_context: ContextVar[AuditContext | None] = ContextVar("audit_context", default=None)
