"""The one Celery app. Workers and web read their Celery settings from Django's, prefixed CELERY_."""

import os

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "access.settings.base")

app = Celery("facegate")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Each access app keeps its own tasks.py (thin wrappers around its services); recognition holds the engine's.
app.autodiscover_tasks(["recognition", "access.alerts", "access.cameras", "access.doors", "access.events",
                        "access.live"])


@worker_process_init.connect(dispatch_uid="facegate.pool_child_own_process_group")
def _leave_launcher_process_group(**_kwargs) -> None:
    """Put each prefork pool child in a process group of its own.

    Launchers such as honcho stop a worker by signalling its whole process group. A pool child killed that
    way can die holding the pool's queue lock, and the worker then hangs forever in its warm shutdown. Out of
    the group, a child is stopped by its parent, after its current task.
    """
    os.setpgid(0, 0)
