"""System checks: the engine's settings and weights and the gallery folder, before a frame needs them."""

import os
from pathlib import Path

from django.conf import settings
from django.core import checks


@checks.register()
def check_engine(app_configs, **kwargs) -> list[checks.CheckMessage]:
    # Imported here, not in ready(): recognition.checks imports torch, which web processes never need.
    from recognition.checks import engine_check

    return engine_check(app_configs, **kwargs)


@checks.register()
def check_gallery_folder(app_configs, **kwargs) -> list[checks.CheckMessage]:
    folder = Path(settings.FACEGATE_GALLERY_DIR)
    nearest = next(path for path in (folder, *folder.parents) if path.exists())
    if nearest.is_dir() and os.access(nearest, os.W_OK | os.X_OK):
        return []
    return [
        checks.Error(
            f"Workers cannot save the gallery in {folder}: {nearest} is not a writable folder.",
            hint="Point FACEGATE_GALLERY_DIR at a writable folder, or fix its owner.",
            id="people.E001",
        )
    ]
