"""Settings for the test suite: the real services CI starts, with a fast password hasher."""

import os

# The servers deploy/local/start-test-services.sh starts, unless the environment names others.
# Set before base reads them, so the worker process the tests start gets the same.
os.environ.setdefault("DATABASE_URL", "postgres://facegate:facegate@127.0.0.1:5432/facegate")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
os.environ.setdefault("CELERY_RESULT_BACKEND", "redis://127.0.0.1:6379/1")

from .base import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
