"""The gallery's operating point: the default 1:N threshold, and T-norm against an impostor cohort.

DRAFT
"""

import faiss
import numpy as np

__all__ = ["DEFAULT_THRESHOLD", "TNORM_TOP_K", "TNorm"]

DIM = 128
DEFAULT_THRESHOLD = 0.6
TNORM_TOP_K = 50
_MIN_SPREAD = 1e-6  # a cohort of identical codes must not divide by zero


class TNorm:
    """T-norm: a query's distances, standardised by its distances to the `top_k` nearest cohort faces.

    The cohort holds faces of people known not to be enrolled, so those distances sample what a stranger's
    distance to this query looks like; a gallery match counts by how far it beats them. The score is
    (distance - mean) / std over that cohort sample: the same increasing map for every neighbour of one query,
    so it never reorders a query's matches, only moves where the threshold falls. Fits `ScoreNormaliser`.
    """

    def __init__(self, cohort: np.ndarray, top_k: int):
        cohort = np.ascontiguousarray(cohort, np.float32)
        if cohort.ndim != 2 or cohort.shape[1] != DIM or not np.isfinite(cohort).all():
            raise ValueError(f"the cohort must be an (n, {DIM}) array of finite codes, got {cohort.shape}")
        if not 2 <= top_k <= len(cohort):
            raise ValueError(f"top_k must be between 2 and the cohort size {len(cohort)}, not {top_k}")
        self.top_k = top_k
        self._index = faiss.IndexFlatL2(DIM)
        self._index.add(cohort)

    def __len__(self) -> int:
        return self._index.ntotal

    def __call__(self, queries: np.ndarray, distances: np.ndarray, person_ids: np.ndarray) -> np.ndarray:
        squared, _ = self._index.search(np.ascontiguousarray(queries, np.float32), self.top_k)
        nearest = np.sqrt(np.maximum(squared, 0))
        mean, spread = nearest.mean(axis=1, keepdims=True), nearest.std(axis=1, keepdims=True)
        return (distances - mean) / np.maximum(spread, _MIN_SPREAD)
