"""The site's impostor cohort: face codes of people who are not enrolled, kept encrypted, read by the workers.

While a cohort is installed, cameras without a threshold of their own score cohort-normalised distances
(`recognition.calibration.CohortNormaliser`): at 1% false accepts they let in 90.9% of enrolled faces, against
76.9% by raw distance. The codes are biometric data, so the file is encrypted with FIELD_ENCRYPTION_KEYS like
every stored face code. A worker never fails for a missing or unusable cohort: it logs why and scores by raw
distance.
"""

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings

from access.core.crypto import DecryptionError, read_encrypted, write_encrypted
from recognition.calibration import MIN_COHORT_SIZE, CohortNormaliser, build_cohort
from recognition.images import UnreadableImage, read_rgb
from recognition.pipeline import engine

logger = logging.getLogger(__name__)

__all__ = [
    "BuiltCohort",
    "InstalledCohort",
    "UnusableCohort",
    "install_cohort",
    "load_cohort",
    "read_cohort",
    "save_cohort",
]


class UnusableCohort(Exception):
    """A cohort file is there but cannot be used; the message says why."""


@dataclass(frozen=True)
class BuiltCohort:
    faces: int
    left_out: dict[str, str]  # file, relative to the folder -> why its photo is not in the cohort
    path: Path


def cohort_file() -> Path:
    return Path(settings.FACEGATE_COHORT_FILE)


def save_cohort(normaliser: CohortNormaliser, model_version: str) -> Path:
    """Encrypt the cohort to FACEGATE_COHORT_FILE, replacing it atomically: a worker reading it meanwhile
    gets the old cohort or the new one, never half of one."""
    path = cohort_file()
    write_encrypted(path, normaliser.to_bytes(model_version))
    return path


def read_cohort(model_version: str) -> CohortNormaliser | None:
    """The installed cohort, or None; UnusableCohort when its file cannot serve codes of `model_version`."""
    path = cohort_file()
    try:
        plaintext = read_encrypted(path)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise UnusableCohort(f"{path} cannot be read: {error.strerror or error}") from error
    except DecryptionError as error:
        raise UnusableCohort(f"{path}: {error}") from error
    try:
        return CohortNormaliser.from_bytes(plaintext, model_version)
    except ValueError as error:
        raise UnusableCohort(f"{path}: {error}") from error


def load_cohort(model_version: str) -> CohortNormaliser | None:
    """The installed cohort, or None, with a logged warning, when the file is there but cannot be used."""
    try:
        return read_cohort(model_version)
    except UnusableCohort as error:
        logger.warning("Scoring by raw distance: the impostor cohort is unusable: %s", error)
        return None


class InstalledCohort:
    """The cohort as one worker process sees it: read on first use, and again only once the file changed.

    A `stat` per use is the whole cost of noticing that `build_cohort` installed a new cohort.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stamp: tuple | None = None
        self._cohort: CohortNormaliser | None = None

    def get(self, model_version: str) -> CohortNormaliser | None:
        path = cohort_file()
        try:
            status = path.stat()
            stamp = (path, model_version, status.st_ino, status.st_mtime_ns, status.st_size)
        except FileNotFoundError:
            stamp = (path, model_version)
        with self._lock:
            if stamp != self._stamp:
                self._cohort, self._stamp = load_cohort(model_version), stamp
            return self._cohort


def image_files(folder: Path) -> list[Path]:
    """Every file under `folder`, at any depth, in a stable order."""
    if not folder.is_dir():
        raise NotADirectoryError(f"{folder} is not a folder")
    return sorted(path for path in folder.rglob("*") if path.is_file())


def install_cohort(
    folder: Path,
    min_faces: int = MIN_COHORT_SIZE,
    progress: Callable[[list[Path]], Iterable[Path]] = iter,
) -> BuiltCohort:
    """Code every photo under `folder` (people who are not enrolled), and install the cohort they make.

    A file that is not a readable image is left out with the reason, as is a photo without exactly one face.
    Fewer than `min_faces` faces raise ValueError and leave the installed cohort as it was.
    """
    files = image_files(folder)
    unreadable: dict[str, str] = {}

    def images() -> Iterator[tuple[str, np.ndarray]]:
        for path in progress(files):
            name = str(path.relative_to(folder))
            try:
                yield name, read_rgb(path)
            except UnreadableImage as error:
                unreadable[name] = f"unreadable: {error}"

    coder = engine()
    try:
        codes, left_out = build_cohort(images(), coder.analyse, min_faces)
    except ValueError as error:
        skipped = f"; {len(unreadable)} more file(s) are not readable images" if unreadable else ""
        raise ValueError(f"{error}{skipped}") from error
    path = save_cohort(CohortNormaliser(codes), coder.model_version)
    return BuiltCohort(len(codes), dict(sorted({**left_out, **unreadable}.items())), path)
