"""The one Celery app. Workers and web read their Celery settings from Django's, prefixed CELERY_."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "access.settings.base")

app = Celery("facegate")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["recognition"])
