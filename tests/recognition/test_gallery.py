"""The FAISS gallery on real dlib face codes of the shared identities and unknowns."""

import io
import multiprocessing
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from bench.gallery import RealCodes, face_codes, identity_photos, synthetic_codes, unknown_photos
from recognition.gallery import Changes, Gallery, MemoryFeed
from tests.facedata import FACEDATA

pytestmark = pytest.mark.skipif(
    not (FACEDATA / "identities").is_dir(),
    reason=f"no shared face data at {FACEDATA} (set FACEGATE_FACEDATA)",
)
PEOPLE = 16  # the first people (by name) of the shared identities: about 80 photos; and 40 unknowns
THRESHOLD = 0.5


@dataclass
class Enrolment:
    """Real codes as a gallery holds them (sample ids, person ids, codes), held-out and unknown queries."""

    real: RealCodes
    sample_ids: np.ndarray
    person_ids: np.ndarray

    @property
    def codes(self) -> np.ndarray:
        return self.real.enrolled

    def rows(self) -> list[tuple[int, int, np.ndarray]]:
        return list(zip(self.sample_ids.tolist(), self.person_ids.tolist(), self.codes, strict=True))

    def gallery(self, **options) -> Gallery:
        gallery = Gallery(**options)
        gallery.add(self.sample_ids, self.person_ids, self.codes)
        return gallery

    def queries(self) -> np.ndarray:
        return np.concatenate([self.real.queries, self.real.unknown])


@pytest.fixture(scope="module")
def enrolment() -> Enrolment:
    photos, people = identity_photos(FACEDATA)
    chosen = people < PEOPLE
    codes = face_codes([photo for photo, keep in zip(photos, chosen, strict=True) if keep])
    unknown = face_codes(unknown_photos(FACEDATA)[:40])
    real = RealCodes.split(codes, people[chosen], unknown[~np.isnan(unknown[:, 0])])
    # FaceSample and Person ids from a database: sparse, not positions
    return Enrolment(real, 1000 + 7 * np.arange(len(real.enrolled)), 500 + 3 * real.enrolled_people)


def brute_force(codes: np.ndarray, queries: np.ndarray) -> np.ndarray:
    return np.sqrt(((queries[:, None, :].astype(np.float64) - codes[None, :, :]) ** 2).sum(-1))


def test_search_is_exact_euclidean_distance(enrolment):
    gallery = enrolment.gallery()
    queries = enrolment.queries()
    distances, ids = gallery.search(queries, k=5)

    expected = brute_force(enrolment.codes, queries)
    order = np.argsort(expected, axis=1)[:, :5]
    assert gallery.kind == "flat"
    np.testing.assert_array_equal(ids, enrolment.sample_ids[order])
    np.testing.assert_allclose(distances, np.take_along_axis(expected, order, axis=1), atol=1e-5)


def test_search_past_the_end_gives_inf_and_minus_one(enrolment):
    gallery = Gallery()
    gallery.add(enrolment.sample_ids[:2], enrolment.person_ids[:2], enrolment.codes[:2])
    distances, ids = gallery.search(enrolment.real.queries[:1], k=4)
    assert set(ids[0, :2]) == set(enrolment.sample_ids[:2]) and (ids[0, 2:] == -1).all()
    assert np.isfinite(distances[0, :2]).all() and np.isinf(distances[0, 2:]).all()
    assert Gallery().search(enrolment.real.queries[:1], k=1)[1][0, 0] == -1


@pytest.mark.parametrize(
    "sample_ids, person_ids, codes, error",
    [
        ([1, 2], [1], "two codes", ValueError),  # lengths disagree
        ([1, 1], [1, 1], "two codes", ValueError),  # an id twice
        ([1.5, 2.0], [1, 1], "two codes", TypeError),
        ([-1, 2], [1, 1], "two codes", ValueError),
        ([1, 2], [1, 1], "short codes", ValueError),
        ([1, 2], [1, 1], "nan codes", ValueError),
        ([1, 2], [1, 1], "text", ValueError),
        ([1000], [1], "one code", ValueError),  # already enrolled
    ],
)
def test_bad_additions_are_refused_and_lose_nothing(enrolment, sample_ids, person_ids, codes, error):
    gallery = enrolment.gallery()
    before = gallery.search(enrolment.real.queries, k=3)
    bad_codes = {
        "two codes": enrolment.codes[:2],
        "one code": enrolment.codes[:1],
        "short codes": enrolment.codes[:2, :64],
        "nan codes": np.where(np.arange(128) == 5, np.nan, enrolment.codes[:2]),
        "text": [["face"] * 128] * 2,
    }[codes]
    with pytest.raises(error):
        gallery.add(sample_ids, person_ids, bad_codes)
    assert len(gallery) == len(enrolment.codes)
    after = gallery.search(enrolment.real.queries, k=3)
    np.testing.assert_array_equal(after[1], before[1])


def test_remove_and_remove_person(enrolment):
    gallery = enrolment.gallery()
    queries = enrolment.queries()
    gone = enrolment.sample_ids[3]
    gallery.remove([gone])
    assert gone not in gallery.search(queries, k=len(gallery))[1]

    with pytest.raises(KeyError, match="not in the gallery"):
        gallery.remove([enrolment.sample_ids[4], 999_999])
    assert len(gallery) == len(enrolment.codes) - 1  # the known id was not removed either

    person = enrolment.person_ids[10]
    owned = int((enrolment.person_ids == person).sum())
    assert gallery.remove_person(person) == owned
    remaining = ~np.isin(enrolment.sample_ids, [gone]) & (enrolment.person_ids != person)
    _, ids = gallery.search(queries, k=len(gallery))
    assert set(ids[0]) == set(enrolment.sample_ids[remaining])
    assert gallery.remove_person(person) == 0


def test_identify_answers_each_person_once_with_their_best_sample(enrolment):
    gallery = enrolment.gallery()
    queries = enrolment.queries()
    answers = gallery.identify(queries, threshold=THRESHOLD, k=len(gallery))

    distances = brute_force(enrolment.codes, queries)
    for query, answer in enumerate(answers):
        best = {}  # person -> (distance, sample)
        for at in np.argsort(distances[query]):
            best.setdefault(
                int(enrolment.person_ids[at]), (distances[query, at], int(enrolment.sample_ids[at]))
            )
        within = sorted((d, person, sample) for person, (d, sample) in best.items() if d <= THRESHOLD)
        assert [(m.person_id, m.sample_id) for m in answer.matches] == [(p, s) for _, p, s in within]
        np.testing.assert_allclose([m.distance for m in answer.matches], [d for d, _, _ in within], atol=1e-5)
        assert [m.score for m in answer.matches] == [m.distance for m in answer.matches]
        outside = min((d for d, _ in best.values() if d > THRESHOLD), default=np.inf)
        np.testing.assert_allclose(answer.nearest_rejected, outside, atol=1e-5)

    known = answers[: len(enrolment.real.queries)]
    top = [answer.matches[0].person_id if answer.matches else None for answer in known]
    assert np.mean(np.array(top) == 500 + 3 * enrolment.real.query_people) > 0.8
    unknown = answers[len(enrolment.real.queries) :]
    assert sum(not answer.matches for answer in unknown) > len(unknown) / 2  # strangers mostly find nobody


def test_identify_applies_the_threshold_to_normalised_scores(enrolment):
    gallery = enrolment.gallery()
    queries = enrolment.queries()
    seen = {}

    def doubled(queries, distances, person_ids):
        seen["persons"] = person_ids
        return 2 * distances

    normalised = gallery.identify(queries, threshold=2 * THRESHOLD, normaliser=doubled)
    plain = gallery.identify(queries, threshold=THRESHOLD)
    assert [[m.person_id for m in a.matches] for a in normalised] == [
        [m.person_id for m in a.matches] for a in plain
    ]
    for a, b in zip(normalised, plain, strict=True):
        assert [m.distance for m in a.matches] == [m.distance for m in b.matches]
        np.testing.assert_allclose([m.score for m in a.matches], [2 * m.distance for m in b.matches])
    assert set(seen["persons"].ravel()) <= set(enrolment.person_ids) | {-1}  # -1: fewer than k samples


def test_save_and_load_round_trip(enrolment):
    gallery = enrolment.gallery(approximate_from=len(enrolment.codes))
    gallery.wait_for_rebuild()
    gallery.remove_person(enrolment.person_ids[0])
    loaded = Gallery.from_bytes(gallery.to_bytes(), approximate_from=len(enrolment.codes))
    assert (loaded.kind, len(loaded), loaded.version) == ("ivf", len(gallery), gallery.version)
    queries = enrolment.queries()
    np.testing.assert_array_equal(loaded.search(queries, k=4)[1], gallery.search(queries, k=4)[1])
    assert [a.matches for a in loaded.identify(queries, THRESHOLD)] == [
        a.matches for a in gallery.identify(queries, THRESHOLD)
    ]


@pytest.mark.parametrize("content", [b"", b"not a gallery", b"PK\x03\x04 truncated zip"])
def test_loading_something_else_is_a_clear_error(content):
    with pytest.raises(ValueError, match="not a saved gallery"):
        Gallery.from_bytes(content)


def test_loading_an_index_that_disagrees_with_its_map_is_refused(enrolment):
    with np.load(io.BytesIO(enrolment.gallery().to_bytes())) as saved:
        parts = dict(saved)
    tampered = io.BytesIO()
    np.savez(tampered, **(parts | {"samples": parts["samples"][1:], "persons": parts["persons"][1:]}))
    with pytest.raises(ValueError, match="disagree"):
        Gallery.from_bytes(tampered.getvalue())


def test_switches_to_ivf_past_the_crossover_and_back(enrolment):
    half = len(enrolment.codes) // 2
    gallery = Gallery(approximate_from=half + 1)
    gallery.add(enrolment.sample_ids[:half], enrolment.person_ids[:half], enrolment.codes[:half])
    assert gallery.wait_for_rebuild() and gallery.kind == "flat"

    gallery.add(enrolment.sample_ids[half:], enrolment.person_ids[half:], enrolment.codes[half:])
    assert gallery.wait_for_rebuild() and gallery.kind == "ivf"
    queries = enrolment.queries()
    np.testing.assert_array_equal(
        gallery.search(queries, k=3)[1], enrolment.gallery().search(queries, k=3)[1]
    )

    gallery.remove(enrolment.sample_ids[:-3])  # below half the crossover: back to exact search
    assert gallery.wait_for_rebuild() and gallery.kind == "flat"
    assert set(gallery.search(queries, k=len(gallery))[1][0]) == set(enrolment.sample_ids[-3:])


def test_changes_during_a_rebuild_are_kept(enrolment):
    building, release = threading.Event(), threading.Event()

    class SlowToBuild(Gallery):
        def _new_index(self, training, nlist):
            if nlist:
                building.set()
                release.wait(10)
            return super()._new_index(training, nlist)

    last = len(enrolment.codes) - 1
    gallery = SlowToBuild(approximate_from=last)
    gallery.add(enrolment.sample_ids[:last], enrolment.person_ids[:last], enrolment.codes[:last])
    assert building.wait(10)
    person = enrolment.person_ids[0]
    gallery.remove_person(person)  # the old index answers while the new one builds
    gallery.add(enrolment.sample_ids[last:], enrolment.person_ids[last:], enrolment.codes[last:])
    assert gallery.kind == "flat" and person not in _persons(gallery, enrolment)
    release.set()

    assert gallery.wait_for_rebuild(10) and gallery.kind == "ivf"
    kept = enrolment.person_ids != person
    assert len(gallery) == kept.sum()
    assert set(gallery.search(enrolment.queries(), k=len(gallery))[1][0]) == set(enrolment.sample_ids[kept])


def test_ivf_keeps_recall_on_real_queries_among_20k_codes(enrolment):
    rng = np.random.default_rng(0)
    # codes sampled around the real ones fill the gallery to a size where IVF really partitions it
    filler = synthetic_codes(enrolment.real, 20_000, rng)
    codes = np.concatenate([enrolment.codes, filler])
    ids = np.arange(len(codes))
    people = np.concatenate([enrolment.person_ids, 10_000 + ids[: len(filler)] // 5])
    exact, approximate = Gallery(approximate_from=len(codes) + 1), Gallery(approximate_from=len(codes))
    for gallery in (exact, approximate):
        gallery.add(ids, people, codes)
        gallery.wait_for_rebuild()
    assert approximate.kind == "ivf" and approximate.nlist >= 4 * approximate.nprobe

    queries = enrolment.real.queries
    nearest = exact.search(queries, 1)[0][:, 0]
    found = approximate.search(queries, 1)[0][:, 0]
    assert np.mean(found <= nearest + 1e-5) >= 0.99


def test_concurrent_searches_never_see_half_a_change(enrolment):
    gallery = enrolment.gallery()
    person = enrolment.person_ids[0]
    owned = enrolment.person_ids == person
    counts, failures = set(), []

    def toggle():
        for _ in range(100):
            gallery.remove_person(person)
            gallery.add(enrolment.sample_ids[owned], enrolment.person_ids[owned], enrolment.codes[owned])

    def search():
        try:
            for _ in range(200):
                ids = gallery.search(enrolment.real.queries[:4], k=len(enrolment.codes))[1]
                counts.update(np.isin(ids, enrolment.sample_ids[owned]).sum(axis=1).tolist())
                gallery.identify(enrolment.real.queries[:4], THRESHOLD)
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            failures.append(error)

    threads = [threading.Thread(target=toggle)] + [threading.Thread(target=search) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    assert counts <= {0, int(owned.sum())}


def test_two_workers_sharing_a_feed_see_each_others_erasures(enrolment):
    feed = MemoryFeed()
    feed.add(enrolment.rows())
    first, second = Gallery(), Gallery()
    assert first.sync(feed) and second.sync(feed)
    person = enrolment.person_ids[0]
    assert person in _persons(first, enrolment) and person in _persons(second, enrolment)

    feed.remove_person(person)  # erased through the first worker
    first.sync(feed)
    assert person not in _persons(first, enrolment)
    assert second.sync(feed)  # the second worker's next search starts with a sync
    assert person not in _persons(second, enrolment)
    assert first.version == second.version == feed.head()
    assert len(second) == (enrolment.person_ids != person).sum()


def test_sync_costs_one_head_call_when_nothing_changed(enrolment):
    calls = []

    class CountingFeed(MemoryFeed):
        def changes_since(self, version):
            calls.append(version)
            return super().changes_since(version)

    feed = CountingFeed()
    feed.add(enrolment.rows())
    gallery = Gallery()
    assert gallery.sync(feed)
    assert not gallery.sync(feed) and not gallery.sync(feed)
    assert calls == [0]


def test_sync_replaces_changed_samples_and_catches_up_from_a_snapshot(enrolment):
    feed = MemoryFeed()
    feed.add(enrolment.rows()[:-1])
    gallery = Gallery()
    gallery.sync(feed)
    sample, person, _ = enrolment.rows()[0]
    other_code = enrolment.codes[-1]
    feed.add([(sample, person, other_code)])  # the sample's code was recomputed
    feed.remove([enrolment.sample_ids[1]])
    gallery.sync(feed)
    assert gallery.search(other_code[None], 1)[1][0, 0] == sample
    assert enrolment.sample_ids[1] not in gallery.search(enrolment.queries(), k=len(gallery))[1]

    behind = Gallery()
    behind.sync(feed)
    feed.add(enrolment.rows()[-1:])
    feed.forget_history()
    assert feed.changes_since(behind.version) is None
    assert behind.sync(feed) and behind.version == feed.head()
    assert len(behind) == len(enrolment.codes) - 1


class SqliteFeed:
    """A GalleryFeed in one SQLite file, shared by processes; the shape the database-backed feed can take:
    a version on every sample row, erased samples kept as code-less tombstones."""

    def __init__(self, path: Path):
        self._db = sqlite3.connect(path, isolation_level=None, timeout=10)
        self._db.executescript(
            "PRAGMA journal_mode=WAL;"
            "CREATE TABLE IF NOT EXISTS head (version INTEGER NOT NULL);"
            "INSERT INTO head SELECT 0 WHERE NOT EXISTS (SELECT * FROM head);"
            "CREATE TABLE IF NOT EXISTS sample"
            " (id INTEGER PRIMARY KEY, person INTEGER, code BLOB, version INTEGER);"
            "CREATE INDEX IF NOT EXISTS sample_version ON sample (version);"
        )

    def head(self) -> int:
        return self._db.execute("SELECT version FROM head").fetchone()[0]

    def write(self, adds=(), removes=()) -> None:
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("UPDATE head SET version = version + 1")
            rows = [(int(s), int(p), np.asarray(c, np.float32).tobytes()) for s, p, c in adds]
            rows += [(int(s), None, None) for s in removes]
            self._db.executemany("INSERT OR REPLACE INTO sample SELECT ?, ?, ?, version FROM head", rows)

    def changes_since(self, version: int) -> Changes:
        with self._db:
            self._db.execute("BEGIN")
            head = self.head()
            rows = self._db.execute(
                "SELECT id, person, code FROM sample WHERE version > ?", (version,)
            ).fetchall()
        adds = [(s, p, np.frombuffer(c, np.float32)) for s, p, c in rows if c is not None]
        return Changes(head, adds, [s for s, _, c in rows if c is None])

    def snapshot(self):
        changes = self.changes_since(0)
        return changes.version, changes.adds


def _search_worker(feed_path: Path, probe: np.ndarray, connection) -> None:
    """A worker process: on each request, sync with the feed, then answer who the probe face is."""
    gallery, feed = Gallery(), SqliteFeed(feed_path)
    while connection.recv():
        gallery.sync(feed)
        connection.send([m.person_id for m in gallery.identify(probe[None], THRESHOLD)[0].matches])


def test_an_erasure_reaches_another_process_by_its_next_search(enrolment, tmp_path):
    feed = SqliteFeed(tmp_path / "feed.sqlite")
    feed.write(adds=enrolment.rows())
    person, probe = 500 + 3 * enrolment.real.query_people[0], enrolment.real.queries[0]
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    worker = context.Process(
        target=_search_worker, args=(tmp_path / "feed.sqlite", probe, theirs), daemon=True
    )
    worker.start()
    try:
        ours.send(True)
        assert ours.poll(60), "the worker process did not answer"
        assert person in ours.recv()
        feed.write(removes=enrolment.sample_ids[enrolment.person_ids == person])
        ours.send(True)
        assert ours.poll(60), "the worker process did not answer"
        assert person not in ours.recv()
    finally:
        ours.send(False)
        worker.join(10)
        if worker.is_alive():
            worker.kill()


def _persons(gallery: Gallery, enrolment: Enrolment) -> set[int]:
    """Every person some query can reach."""
    return {
        m.person_id
        for a in gallery.identify(enrolment.queries(), np.inf, k=len(enrolment.codes))
        for m in a.matches
    }
