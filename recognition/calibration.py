"""The gallery's operating point: the 1:N thresholds, and score normalisation against an impostor cohort.

Every figure here is printed by `nice -n 10 .venv/bin/python -m bench.identify` (its docstring gives the
protocol): codes from FaceGate's own torch pipeline on the shared real faces, 300 identities/ people enrolled
from up to 3 photos each, 2,437 never-enrolled probes from unknown/ and faces_pool/, and a cohort of 1,062
other faces_pool/ photos. The target is FAR <= 1% at N=300: a stranger at the door is let in by at most 1 in
100 attempts. dlib's 0.6 is a pair-verification point: there 82% of strangers match someone at N=300.

A cohort is a set of face codes of people known not to be enrolled. `CohortNormaliser` divides a query's
distances by how close its nearest strangers in the cohort come. At the same FAR of 1%, cross-validated by
person, it accepts 90.9% of genuine probes against 76.9% for raw distance (+14.0 points, 95% interval over
people +11.1 .. +17.1), and at FAR 0.1% about 83% against 39% (2,437 strangers: indicative only). The cohort
is the operator's own: faces of people who are not enrolled, from the site's own cameras where possible,
coded with `build_cohort`, saved with `to_bytes`, encrypted and kept outside the repository
(`python manage.py build_cohort DIR` does all three). FaceGate never ships one.
"""

import io
import zipfile
from collections.abc import Callable, Iterable

import faiss
import numpy as np

from recognition.gallery import DIM
from recognition.operating_point import COHORT_THRESHOLD, DEFAULT_THRESHOLD  # exported with their evidence
from recognition.types import Face

__all__ = [
    "COHORT_SHARE",
    "COHORT_THRESHOLD",
    "DEFAULT_THRESHOLD",
    "MIN_COHORT_SIZE",
    "CohortNormaliser",
    "build_cohort",
]

COHORT_SHARE = 0.01  # of the cohort, nearest first: the mean distance to these is the query's scale
MIN_COHORT_SIZE = 300
_FORMAT = 1


class CohortNormaliser:
    """A query's distances divided by its mean distance to the nearest `share` of the cohort (at least one).

    Those nearest strangers say how crowded the query's neighbourhood is: a face that many people resemble
    needs a closer gallery match than a distinctive one. The divisor is the same for every neighbour of one
    query, so the normalised scores never reorder a query's matches; only the accept decision moves. Taking a
    share rather than a fixed count keeps the scores, and so the threshold, nearly independent of the cohort's
    size. Fits `recognition.gallery.ScoreNormaliser`.
    """

    def __init__(self, cohort: np.ndarray, share: float = COHORT_SHARE):
        cohort = np.asarray(cohort)
        if cohort.ndim != 2 or cohort.shape[1] != DIM or not len(cohort) or cohort.dtype.kind != "f":
            raise ValueError(
                f"a cohort must be a non-empty (n, {DIM}) float array, got {cohort.dtype} {cohort.shape}"
            )
        if not np.isfinite(cohort).all():
            raise ValueError("a cohort's codes must be finite")
        if not 0 < share <= 1:
            raise ValueError(f"share must be in (0, 1], not {share}")
        self.codes = np.ascontiguousarray(cohort, np.float32)
        self.nearest = max(1, round(share * len(cohort)))
        self._index = faiss.IndexFlatL2(DIM)
        self._index.add(self.codes)

    def __len__(self) -> int:
        return len(self.codes)

    def __call__(self, queries: np.ndarray, distances: np.ndarray, person_ids: np.ndarray) -> np.ndarray:
        squared, _ = self._index.search(np.ascontiguousarray(queries, np.float32), self.nearest)
        scale = np.sqrt(np.maximum(squared, 0)).mean(axis=1, keepdims=True)
        return distances / np.maximum(scale, np.finfo(np.float32).tiny)

    def to_bytes(self, model_version: str) -> bytes:
        """The cohort as a file's content; encrypt it before it touches the disk (it is biometric data)."""
        buffer = io.BytesIO()
        np.savez(buffer, format=_FORMAT, model_version=model_version, codes=self.codes)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, model_version: str, share: float = COHORT_SHARE) -> "CohortNormaliser":
        """A cohort saved by `to_bytes` from codes of the same model; anything else raises ValueError."""
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as saved:
                if int(saved["format"]) != _FORMAT:
                    raise ValueError(f"format {int(saved['format'])}, expected {_FORMAT}")
                if str(saved["model_version"]) != model_version:
                    raise ValueError(f"codes of {saved['model_version']}, not of {model_version}")
                codes = saved["codes"]
        except (zipfile.BadZipFile, KeyError, EOFError, OSError, ValueError) as error:
            raise ValueError(f"not a saved cohort: {error}") from error
        return cls(codes, share)


def build_cohort(
    images: Iterable[tuple[str, np.ndarray]],
    analyse: Callable[[np.ndarray], list[Face]],
    min_size: int = MIN_COHORT_SIZE,
) -> tuple[np.ndarray, dict[str, str]]:
    """Cohort codes from (name, RGB image) pairs, and why each image left out was left out.

    An image counts when it shows exactly one face: with several, there is no telling which one was meant.
    Fewer than `min_size` usable faces raise ValueError: `COHORT_THRESHOLD` holds for MIN_COHORT_SIZE or more.
    """
    codes: list[np.ndarray] = []
    left_out: dict[str, str] = {}
    for name, image in images:
        faces = analyse(image)
        if len(faces) == 1:
            codes.append(faces[0].code)
        else:
            left_out[name] = "no face found" if not faces else f"{len(faces)} faces, expected one"
    if len(codes) < min_size:
        raise ValueError(
            f"{len(codes)} of {len(codes) + len(left_out)} images show exactly one face; a cohort needs at "
            f"least {min_size} faces of people who are not enrolled"
        )
    return np.stack(codes).astype(np.float32), left_out
