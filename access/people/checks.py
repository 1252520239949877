"""System checks: the engine's weights and the gallery folder are there before the first frame needs them."""

import os
from pathlib import Path

from django.conf import settings
from django.core import checks


@checks.register()
def check_model_weights(app_configs, **kwargs) -> list[checks.CheckMessage]:
    from recognition.models.weights import KINDS, dat_path

    errors = []
    for kind, spec in KINDS.items():
        try:
            dat_path(spec.dat_name)
        except FileNotFoundError as error:
            errors.append(
                checks.Error(
                    f"The {kind} weights cannot be found: {error}",
                    hint="pip install the face_recognition_models version pinned in requirements.txt.",
                    id="people.E001",
                )
            )
    return errors


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
            id="people.E002",
        )
    ]
