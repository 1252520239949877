"""The live stream is tested against real servers, so its tests commit: each starts from emptied tables."""

import importlib

import pytest
from django.apps import apps

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
