"""The live stream is tested against real servers, so its tests commit: each starts from emptied tables."""

import importlib
import time

import pytest
from django.apps import apps

from access.live.stream import open_streams

_roles_migration = importlib.import_module("access.accounts.migrations.0001_roles")


class _PermissionsAlreadyMade:
    """The app registry as the roles migration uses it, minus making permissions: the flush that empties
    the tables after a committing test makes them again (post_migrate)."""

    get_model = staticmethod(apps.get_model)

    @staticmethod
    def get_app_configs() -> list:
        return []


@pytest.fixture(autouse=True)
def roles(transactional_db) -> None:
    """The role groups, which the roles migration made and an emptying flush took away."""
    _roles_migration.create_roles(_PermissionsAlreadyMade, None)


@pytest.fixture(autouse=True)
def stream_timing(settings):
    settings.FACEGATE_STREAM_POLL_SECONDS = 0.1
    # Frequent heartbeats: a stream learns its client has gone when one fails to reach it.
    settings.FACEGATE_STREAM_HEARTBEAT_SECONDS = 0.2
    settings.FACEGATE_STREAM_MAX_SECONDS = 60.0
    return settings


@pytest.fixture
def server(live_server, transactional_db, stream_timing):
    """Django's live server, in threads of this process; each test waits for the streams it opened to end,
    so none reads the database after the test has emptied it."""
    yield live_server
    deadline = time.monotonic() + 10
    while open_streams() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert open_streams() == 0, "a stream went on after its client had gone"
