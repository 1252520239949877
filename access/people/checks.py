"""System checks: the engine's settings and weights, the gallery folder and the cohort, before a frame needs
them."""

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


@checks.register()
def check_cohort(app_configs, **kwargs) -> list[checks.CheckMessage]:
    # Imported here for the same reason as in check_engine: the cohort is scored with faiss, next to torch.
    from access.people.cohort import UnusableCohort, read_cohort
    from recognition.calibration import MIN_COHORT_SIZE
    from recognition.pipeline import Engine

    try:
        if read_cohort(Engine.model_version) is not None:
            return []
        problem = f"No impostor cohort is installed ({settings.FACEGATE_COHORT_FILE} does not exist)"
    except UnusableCohort as error:
        problem = f"The impostor cohort is unusable: {error}"
    return [
        checks.Warning(
            f"{problem}. Cameras without a threshold of their own score raw distances, which accept 76.9% of "
            "enrolled faces at 1% false accepts, against 90.9% with a cohort.",
            hint=f"Install one from photos of at least {MIN_COHORT_SIZE} people who are not enrolled: "
            "python manage.py build_cohort DIR",
            id="people.W002",
        )
    ]
