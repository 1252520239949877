"""Settings for the test suite: the real services CI starts, with a fast password hasher."""

import os
from pathlib import Path

# The servers deploy/local/start-test-services.sh starts, unless the environment names others.
# Set before base reads them, so the worker process the tests start gets the same.
os.environ.setdefault("DATABASE_URL", "postgres://facegate:facegate@127.0.0.1:5432/facegate")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
os.environ.setdefault("CELERY_RESULT_BACKEND", "redis://127.0.0.1:6379/1")
# Door commands go to the test Mosquitto, in the tests and in the worker process they start.
os.environ.setdefault("MQTT_URL", "mqtt://127.0.0.1:1883")
# Retained discovery configs from tests stay out of the prefix a real Home Assistant on that broker reads.
os.environ.setdefault("FACEGATE_HA_DISCOVERY_PREFIX", "facegate-test-homeassistant")
# One id per pytest run, inherited by the worker it starts: runs sharing a Redis keep their queues apart.
os.environ.setdefault("FACEGATE_TEST_RUN", str(os.getpid()))

from .base import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
if CELERY_BROKER_URL.startswith("redis"):  # noqa: F405
    CELERY_BROKER_TRANSPORT_OPTIONS = {"global_keyprefix": f"test-run-{os.environ['FACEGATE_TEST_RUN']}:"}
# WhiteNoise warns on every request while STATIC_ROOT is missing, and the suite never collects static files.
Path(STATIC_ROOT).mkdir(parents=True, exist_ok=True)  # noqa: F405
