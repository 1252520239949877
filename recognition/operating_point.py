"""The 1:N operating points and the rule that picks one for a camera.

Kept free of faiss and torch so that Django settings and web processes can read the defaults; the figures
behind them, and the cohort that the normalised scores need, are in `recognition.calibration`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from recognition.gallery import ScoreNormaliser

__all__ = ["COHORT_THRESHOLD", "DEFAULT_THRESHOLD", "Scoring", "scoring_for"]

# Raw Euclidean distance, for a gallery without a cohort: 0.4394 accepts 1% of the strangers at N=300 with up
# to 3 photos each (cross-validated: FAR 1.07%, TAR 76.9%); rounded down to 0.435: FAR 0.84%, TAR 75.6%.
# FAR at 0.435 grows with N: 0.23% at 50, 0.48% at 150, 0.84% at 300 enrolled; re-run the bench past 300.
DEFAULT_THRESHOLD = 0.435
# `CohortNormaliser` scores: the lowest threshold for FAR 1% at N=300 over ten random cohorts of
# MIN_COHORT_SIZE faces is 0.7859 (0.8028 with all 1,062), rounded down to 0.785: TAR about 88%.
COHORT_THRESHOLD = 0.785


@dataclass(frozen=True)
class Scoring:
    """What a face's gallery distances are turned into and compared with: `Gallery.identify`'s arguments.

    Without a normaliser the threshold is a raw Euclidean distance; with one, it is in the normaliser's units.
    """

    threshold: float
    normaliser: ScoreNormaliser | None = None


def scoring_for(
    camera_threshold: float | None,
    cohort: ScoreNormaliser | None,
    *,
    default_threshold: float = DEFAULT_THRESHOLD,
    cohort_threshold: float = COHORT_THRESHOLD,
) -> Scoring:
    """A camera's own threshold is a raw distance and is obeyed literally; else cohort scores when a cohort
    is installed (they accept more genuine faces at the same false-accept rate); else raw distance.

    Workers pass the defaults from their `EngineConfig`, through `RecognitionTask.scoring`.
    """
    if camera_threshold is not None:
        return Scoring(camera_threshold)
    if cohort is not None:
        return Scoring(cohort_threshold, cohort)
    return Scoring(default_threshold)
