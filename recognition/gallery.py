"""The gallery: FAISS search over enrolled face codes, kept in step with the database in every worker.

Exact search (`IndexIDMap2` over `IndexFlatL2`) while the gallery is small; past `approximate_from` codes
it is rebuilt, off the hot path, as an IVF index (`IndexIVFFlat`) whose probe count keeps recall@1 >= 0.99
against exact search (bench/gallery.py measures both). The IVF index keeps the sample ids itself: inside
`IndexIDMap2` its removals would silently mislabel later samples, as IVF does not compact its ids the way
`IndexFlat` does. Not HNSW: FAISS cannot remove from it, and an erased person must stop matching at once.

Every worker process holds its own `Gallery` and calls `sync(feed)` before it searches: a `GalleryFeed` says
cheaply whether anything changed since the gallery's version, and only then hands over the changes.
"""

import io
import math
import threading
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import faiss
import numpy as np

__all__ = [
    "APPROXIMATE_FROM",
    "NPROBE",
    "Changes",
    "Gallery",
    "GalleryFeed",
    "Identification",
    "Match",
    "MemoryFeed",
    "Row",
    "ScoreNormaliser",
]

DIM = 128
# Measured by bench/gallery.py on 2 shared cores, 1 thread: Flat costs 40-140 ns per code per query (1 ms at
# 7k-25k codes) while IVF at nprobe 64 is faster from 10k codes with recall@1 1.0; exact search is kept while
# it is cheap. At 1M codes IVF4096 needs nprobe 64 for recall@1 >= 0.99 with margin (0.997; 32 gives 0.993).
APPROXIMATE_FROM = 20_000
NPROBE = 64
_TRAINING_POINTS_PER_LIST = 39  # FAISS's own minimum for k-means without a warning
_SAVE_FORMAT = 1

Row = tuple[int, int, np.ndarray]  # (sample id, person id, 128-d code)


class Changes(NamedTuple):
    """What changed after some version: apply `removes`, then `adds` (an id already present is replaced)."""

    version: int
    adds: list[Row]
    removes: list[int]


class GalleryFeed(Protocol):
    """Where a worker's gallery learns about enrolments and erasures made elsewhere."""

    def head(self) -> int:
        """The latest version. Called before every search, so it must be cheap (a Redis GET, one row)."""
        ...

    def changes_since(self, version: int) -> Changes | None:
        """Everything changed after `version`, or None when the feed no longer knows (then: `snapshot()`)."""
        ...

    def snapshot(self) -> tuple[int, Iterable[Row]]:
        """Every live sample, and the version it reflects."""
        ...


class ScoreNormaliser(Protocol):
    """Turns the (n, k) neighbour distances of `queries` into scores (smaller is closer), e.g. T-norm.

    `person_ids` holds each neighbour's person; past the gallery's end the distance is inf and the person -1.
    """

    def __call__(self, queries: np.ndarray, distances: np.ndarray, person_ids: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class Match:
    person_id: int
    sample_id: int  # that person's closest sample
    distance: float  # Euclidean distance to it
    score: float  # what the threshold was applied to: the distance itself unless a normaliser is given


@dataclass(frozen=True)
class Identification:
    matches: list[Match]  # every person within the threshold, best first; empty for an unknown face
    nearest_rejected: float  # score of the nearest person outside it (inf: none among the k nearest)


class Gallery:
    """Face codes of enrolled samples, searchable by Euclidean distance; thread-safe.

    Searches hold the same lock as changes, so no search sees a change half applied. Growing past
    `approximate_from` (or shrinking below half of it, or outgrowing the IVF's list count) starts a rebuild in
    a background thread; searches keep using the current index until the new one is swapped in.
    """

    def __init__(self, approximate_from: int = APPROXIMATE_FROM, nprobe: int = NPROBE, device: str = "auto"):
        if device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', not {device!r}")
        gpus = faiss.get_num_gpus() if hasattr(faiss, "StandardGpuResources") else 0
        if device == "cuda" and not gpus:
            raise RuntimeError("device='cuda' needs faiss built with GPU support and a visible CUDA device")
        self.approximate_from = approximate_from
        self._nprobe = nprobe
        self._gpu = faiss.StandardGpuResources() if gpus and device != "cpu" else None
        self._lock = threading.Lock()  # guards everything below
        self._rebuild_lock = threading.Lock()  # one rebuild at a time
        self._sync_lock = threading.Lock()  # one sync at a time, so versions only move forward
        self._owners = _Owners()
        self._install(self._new_index(np.empty((0, DIM), np.float32), nlist=0))
        self._journal: list[tuple[np.ndarray, ...]] | None = None  # changes made while a rebuild runs
        self._rebuilder: threading.Thread | None = None
        self._version = 0

    def __len__(self) -> int:
        return len(self._owners)

    @property
    def version(self) -> int:
        """The feed version this gallery reflects (set by `sync`, `rebuild` and `load`)."""
        return self._version

    @property
    def nprobe(self) -> int:
        """Inverted lists an approximate search visits: more is slower and closer to exact."""
        return self._nprobe

    @nprobe.setter
    def nprobe(self, nprobe: int) -> None:
        with self._lock:
            self._nprobe = nprobe
            self._install(self._index)

    @property
    def kind(self) -> str:
        """'flat' (exact) or 'ivf' (approximate)."""
        return "ivf" if self.nlist else "flat"

    @property
    def nlist(self) -> int:
        """Inverted lists of the approximate index; 0 while search is exact."""
        return self._index.nlist if isinstance(self._index, faiss.IndexIVF) else 0

    # changes

    def add(self, sample_ids: Sequence[int], person_ids: Sequence[int], codes: np.ndarray) -> None:
        """Enrol new samples. Ids already in the gallery are refused (remove them first); nothing is added."""
        ids, persons, vectors = _as_rows(sample_ids, person_ids, codes)
        with self._lock:
            present = ids[self._owners.contains(ids)]
            if len(present):
                raise ValueError(f"sample ids already in the gallery: {present[:10].tolist()}")
            self._apply(np.empty(0, np.int64), ids, persons, vectors)

    def remove(self, sample_ids: Sequence[int]) -> None:
        """Remove samples; unknown ids are refused, and nothing is removed."""
        ids = _as_ids(sample_ids)
        with self._lock:
            unknown = ids[~self._owners.contains(ids)]
            if len(unknown):
                raise KeyError(f"sample ids not in the gallery: {unknown[:10].tolist()}")
            self._apply(ids, *_no_rows())

    def remove_person(self, person_id: int) -> int:
        """Remove every sample of a person; returns how many there were (0 is fine: erasing is idempotent)."""
        with self._lock:
            samples = self._owners.samples_of(int(person_id))
            self._apply(samples, *_no_rows())
        return len(samples)

    def rebuild(self, rows: Iterable[Row], version: int = 0) -> None:
        """Replace the whole content with `rows` (from the database) that reflect feed `version`.

        The new index is built while searches go on against the old one; changes made meanwhile are replayed.
        """
        ids, persons, codes = _rows_to_arrays(rows)
        with self._rebuild_lock:
            with self._lock:
                self._journal = []
            self._swap_in(ids, persons, codes, version)

    def sync(self, feed: GalleryFeed) -> bool:
        """Apply what `feed` changed since this gallery's version; True when anything was applied.

        Costs one `feed.head()` call when nothing changed, so workers call it before every search.
        """
        if feed.head() == self._version:
            return False
        with self._sync_lock:
            changes = feed.changes_since(self._version)
            if changes is None:
                version, rows = feed.snapshot()
                self.rebuild(rows, version)
                return True
            if changes.version == self._version:
                return False
            ids, persons, codes = _rows_to_arrays(changes.adds)
            with self._lock:
                self._apply(_as_ids(changes.removes), ids, persons, codes)
                self._version = changes.version
        return True

    # search

    def search(self, codes: np.ndarray, k: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """The k nearest samples of each query: (n, k) Euclidean distances and ids (inf and -1 if none)."""
        queries = _as_codes(codes)
        with self._lock:
            return self._search(queries, k)

    def identify(
        self, codes: np.ndarray, threshold: float, k: int = 32, normaliser: ScoreNormaliser | None = None
    ) -> list[Identification]:
        """Open-set identification: per query, the persons whose best sample scores within `threshold`.

        A person's score is that of their closest sample among the k nearest samples; call `sync(feed)` first.
        """
        queries = _as_codes(codes)
        with self._lock:
            distances, samples = self._search(queries, k)
            persons = self._owners.persons_of(samples)
        scores = (
            distances
            if normaliser is None
            else np.asarray(normaliser(queries, distances, persons), np.float32)
        )
        scores = np.where(samples < 0, np.inf, scores)
        return [
            _identify_one(scores[row], distances[row], samples[row], persons[row], threshold)
            for row in range(len(queries))
        ]

    # persistence

    def to_bytes(self) -> bytes:
        """The index, the sample-to-person map and the version as one file's content.

        It holds face codes: the caller encrypts it before it touches the disk.
        """
        with self._lock:
            index = faiss.serialize_index(self._index)
            samples, persons = self._owners.samples.copy(), self._owners.persons.copy()
            version = self._version
        buffer = io.BytesIO()
        np.savez(buffer, format=_SAVE_FORMAT, version=version, index=index, samples=samples, persons=persons)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, **options: Any) -> "Gallery":
        """A gallery from `to_bytes`; `options` as for the constructor. Anything else raises ValueError."""
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as saved:
                if int(saved["format"]) != _SAVE_FORMAT:
                    raise ValueError(f"format {int(saved['format'])}, expected {_SAVE_FORMAT}")
                index = faiss.deserialize_index(saved["index"])
                samples, persons, version = saved["samples"], saved["persons"], int(saved["version"])
            if index.d != DIM or index.ntotal != len(samples) or len(samples) != len(persons):
                raise ValueError("index and sample map disagree")
        except (zipfile.BadZipFile, KeyError, ValueError, RuntimeError, EOFError) as error:
            raise ValueError(f"not a saved gallery: {error}") from error
        gallery = cls(**options)
        with gallery._lock:
            gallery._owners = _Owners(samples, persons)
            gallery._install(index)
            gallery._version = version
            gallery._start_rebuild_if_needed()
        return gallery

    def wait_for_rebuild(self, timeout: float | None = None) -> bool:
        """Block until a background rebuild, if any, has been swapped in; False on timeout."""
        rebuilder = self._rebuilder
        if rebuilder is not None:
            rebuilder.join(timeout)
            return not rebuilder.is_alive()
        return True

    # internals: callers hold self._lock unless said otherwise

    def _search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        if k < 1:
            raise ValueError(f"k must be at least 1, not {k}")
        squared, ids = self._replica.search(queries, k)
        return np.where(ids < 0, np.inf, np.sqrt(np.maximum(squared, 0))).astype(np.float32), ids

    def _apply(self, removes: np.ndarray, ids: np.ndarray, persons: np.ndarray, codes: np.ndarray) -> None:
        gone = _change(self._owners, self._index, removes, ids, persons, codes)
        if self._replica is not self._index:
            if len(gone):
                self._replica = self._to_device(self._index)  # FAISS GPU indexes cannot remove: copy anew
            elif len(ids):
                self._replica.add_with_ids(codes, ids)
        if self._journal is not None:
            self._journal.append((removes, ids, persons, codes))
        self._start_rebuild_if_needed()

    def _start_rebuild_if_needed(self) -> None:
        if self._wants_rebuild() and (self._rebuilder is None or not self._rebuilder.is_alive()):
            self._rebuilder = threading.Thread(
                target=self._rebuild_if_needed, name="gallery-rebuild", daemon=True
            )
            self._rebuilder.start()

    def _rebuild_if_needed(self) -> None:
        """Rebuild to the layout the current size calls for (in a background thread, without the lock)."""
        with self._rebuild_lock:
            with self._lock:
                if not self._wants_rebuild():
                    return
                ids, persons = self._owners.samples.copy(), self._owners.persons.copy()
                codes = self._index.reconstruct_batch(ids) if len(ids) else np.empty((0, DIM), np.float32)
                self._journal = []
            self._swap_in(ids, persons, codes, self._version)

    def _swap_in(self, ids: np.ndarray, persons: np.ndarray, codes: np.ndarray, version: int) -> None:
        """Build an index of these rows without the lock; swap it in, replaying changes journaled meanwhile.

        The caller started the journal (`self._journal = []`) when it took the rows.
        """
        try:
            owners, index = _Owners(ids, persons), self._new_index(codes, self._nlist_for(len(ids)))
            index.add_with_ids(codes, ids)
        except BaseException:
            with self._lock:
                self._journal = None
            raise
        with self._lock:
            for change in self._journal:
                _change(owners, index, *change)
            self._journal = None
            self._owners = owners
            self._install(index)
            self._version = version

    def _install(self, index: faiss.Index) -> None:
        if isinstance(index, faiss.IndexIVF):
            index.nprobe = self._nprobe
        self._index = index
        self._replica = self._to_device(index)

    def _to_device(self, index: faiss.Index) -> faiss.Index:
        return faiss.index_cpu_to_gpu(self._gpu, 0, index) if self._gpu is not None else index

    def _new_index(self, training: np.ndarray, nlist: int) -> faiss.Index:
        if not nlist:
            return faiss.IndexIDMap2(faiss.IndexFlatL2(DIM))
        index = faiss.IndexIVFFlat(faiss.IndexFlatL2(DIM), DIM, nlist)
        # k-means on a sample: FAISS's default 256 points per list takes minutes at 1M codes
        index.cp.max_points_per_centroid = 2 * _TRAINING_POINTS_PER_LIST
        index.train(training)
        index.set_direct_map_type(faiss.DirectMap.Hashtable)  # remove_ids and reconstruct by sample id
        return index

    def _nlist_for(self, size: int) -> int:
        """IVF list count for `size` codes (0: exact), about 4 sqrt(n) as FAISS advises, a power of two."""
        if size < self.approximate_from:
            return 0
        nlist = 2 ** round(math.log2(4 * math.sqrt(size)))
        return max(1, min(nlist, 2 ** int(math.log2(max(1, size // _TRAINING_POINTS_PER_LIST)))))

    def _wants_rebuild(self) -> bool:
        size = len(self._owners)
        if not isinstance(self._index, faiss.IndexIVF):
            return size >= self.approximate_from
        if size < self.approximate_from // 2:
            return True
        ideal = self._nlist_for(max(size, self.approximate_from))
        return max(ideal, self._index.nlist) >= 4 * min(ideal, self._index.nlist)


class MemoryFeed:
    """The reference `GalleryFeed`, in one process's memory: for tests and single-process tools."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version = 0
        self._oldest = 0  # changes after this version are still known
        self._live: dict[int, tuple[int, np.ndarray]] = {}
        self._touched: dict[int, int] = {}  # sample id -> version of its last change

    def head(self) -> int:
        return self._version

    def add(self, rows: Iterable[Row]) -> int:
        with self._lock:
            self._version += 1
            for sample_id, person_id, code in rows:
                self._live[int(sample_id)] = (int(person_id), np.asarray(code, np.float32))
                self._touched[int(sample_id)] = self._version
            return self._version

    def remove(self, sample_ids: Iterable[int]) -> int:
        with self._lock:
            self._version += 1
            for sample_id in sample_ids:
                self._live.pop(int(sample_id), None)
                self._touched[int(sample_id)] = self._version
            return self._version

    def remove_person(self, person_id: int) -> int:
        with self._lock:
            samples = [sample for sample, (person, _) in self._live.items() if person == person_id]
        return self.remove(samples)

    def forget_history(self) -> None:
        """Forget past changes, as a trimmed Redis stream would: galleries behind rebuild from a snapshot."""
        with self._lock:
            self._touched.clear()
            self._oldest = self._version

    def changes_since(self, version: int) -> Changes | None:
        with self._lock:
            if not self._oldest <= version <= self._version:
                return None
            touched = [sample for sample, changed in self._touched.items() if changed > version]
            adds = [(sample, *self._live[sample]) for sample in touched if sample in self._live]
            removes = [sample for sample in touched if sample not in self._live]
            return Changes(self._version, adds, removes)

    def snapshot(self) -> tuple[int, list[Row]]:
        with self._lock:
            return self._version, [(sample, person, code) for sample, (person, code) in self._live.items()]


class _Owners:
    """Sample id -> person id as two sorted arrays: vectorised lookups, 16 MB for a million samples."""

    def __init__(self, samples: np.ndarray | None = None, persons: np.ndarray | None = None):
        samples = np.empty(0, np.int64) if samples is None else np.asarray(samples, np.int64)
        persons = np.empty(0, np.int64) if persons is None else np.asarray(persons, np.int64)
        order = np.argsort(samples, kind="stable")
        self.samples, self.persons = samples[order], persons[order]

    def __len__(self) -> int:
        return len(self.samples)

    def contains(self, samples: np.ndarray) -> np.ndarray:
        return self._locate(samples)[1]

    def persons_of(self, samples: np.ndarray) -> np.ndarray:
        """Person of each sample id, -1 for unknown ids such as FAISS's -1 ('no result')."""
        at, found = self._locate(samples)
        return np.where(found, self.persons[at], -1) if len(self.persons) else np.full(np.shape(samples), -1)

    def _locate(self, samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Where each sample id sits in the sorted arrays, and whether it is there."""
        if not len(self.samples):
            return np.zeros(np.shape(samples), np.intp), np.zeros(np.shape(samples), bool)
        at = np.searchsorted(self.samples, samples).clip(max=len(self.samples) - 1)
        return at, self.samples[at] == samples

    def samples_of(self, person: int) -> np.ndarray:
        return self.samples[self.persons == person]

    def add(self, samples: np.ndarray, persons: np.ndarray) -> None:
        order = np.argsort(samples, kind="stable")
        at = np.searchsorted(self.samples, samples[order])
        self.samples = np.insert(self.samples, at, samples[order])
        self.persons = np.insert(self.persons, at, persons[order])

    def remove(self, samples: np.ndarray) -> None:
        keep = ~np.isin(self.samples, samples)
        self.samples, self.persons = self.samples[keep], self.persons[keep]


def _change(
    owners: "_Owners",
    index: faiss.Index,
    removes: np.ndarray,
    ids: np.ndarray,
    persons: np.ndarray,
    codes: np.ndarray,
) -> np.ndarray:
    """Remove `removes` and add the rows, replacing ids already present; returns the ids that were removed."""
    gone = np.union1d(removes, ids)
    gone = gone[owners.contains(gone)]
    if len(gone):
        owners.remove(gone)
        index.remove_ids(gone)
    if len(ids):
        owners.add(ids, persons)
        index.add_with_ids(codes, ids)
    return gone


def _identify_one(
    scores: np.ndarray, distances: np.ndarray, samples: np.ndarray, persons: np.ndarray, threshold: float
) -> Identification:
    matches: list[Match] = []
    seen: set[int] = set()
    for at in np.argsort(scores, kind="stable"):
        if not np.isfinite(scores[at]):
            break
        person = int(persons[at])
        if person in seen:
            continue
        seen.add(person)
        if scores[at] > threshold:
            return Identification(matches, float(scores[at]))
        matches.append(Match(person, int(samples[at]), float(distances[at]), float(scores[at])))
    return Identification(matches, math.inf)


def _as_ids(ids: Sequence[int] | np.ndarray, name: str = "sample ids") -> np.ndarray:
    array = np.asarray(ids)
    if array.size == 0:
        return np.empty(0, np.int64)
    if array.ndim != 1 or array.dtype.kind not in "iu":
        raise TypeError(
            f"{name} must be a 1-d sequence of integers, got {array.dtype} with shape {array.shape}"
        )
    if array.min() < 0:
        raise ValueError(f"{name} must not be negative")
    return array.astype(np.int64)


def _as_codes(codes: np.ndarray) -> np.ndarray:
    array = np.asarray(codes)
    if array.ndim != 2 or array.shape[1] != DIM or array.dtype.kind not in "fiu":
        raise ValueError(f"codes must be an (n, {DIM}) array of numbers, got {array.dtype} {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError("codes must be finite")
    return np.ascontiguousarray(array, np.float32)


def _as_rows(sample_ids, person_ids, codes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ids, persons = _as_ids(sample_ids), _as_ids(person_ids, "person ids")
    vectors = _as_codes(codes) if np.size(codes) else np.empty((0, DIM), np.float32)
    if not len(ids) == len(persons) == len(vectors):
        raise ValueError(f"{len(ids)} sample ids, {len(persons)} person ids and {len(vectors)} codes")
    if len(np.unique(ids)) != len(ids):
        raise ValueError("sample ids repeat")
    return ids, persons, vectors


def _rows_to_arrays(rows: Iterable[Row]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows = list(rows)
    return _as_rows([row[0] for row in rows], [row[1] for row in rows], [row[2] for row in rows])


def _no_rows() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return np.empty(0, np.int64), np.empty(0, np.int64), np.empty((0, DIM), np.float32)
