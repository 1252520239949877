"""Open-set 1:N identification on the shared real faces: FAR/TAR curve, the calibrated threshold, T-norm.

    nice -n 10 .venv/bin/python -m bench.identify              # from the repository root
    nice -n 10 .venv/bin/python -m bench.identify --codes-only # just fill the code cache (about 15 min, 1 core)

PROTOCOL DRAFT
"""

import argparse
import collections
import csv
import hashlib
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from recognition.calibration import DEFAULT_THRESHOLD, TNORM_TOP_K, TNorm
from recognition.gallery import Gallery, ScoreNormaliser
from recognition.models.weights import KINDS, cache_dir, dat_path
from recognition.pipeline import Engine, engine
from recognition.types import Face

FACEDATA = Path(
    os.environ.get("FACEGATE_FACEDATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "facedata")
)
REPO = Path(__file__).resolve().parents[1]
# Sources whose edits change codes: the cache is keyed by their text and by the weights files.
CODE_SOURCES = (
    "recognition/pipeline.py",
    "recognition/align.py",
    "recognition/models/detector.py",
    "recognition/models/landmarks.py",
    "recognition/models/facecode.py",
)
_SAVE_EVERY = 200

STRANGERS = ("unknown", "pool")  # never-enrolled probes whatever the gallery size
COHORT_SHARE = 34  # percent of faces_pool people set aside as the T-norm cohort
MAX_PHOTOS = 3
CURVE = np.round(np.arange(0.30, 0.6501, 0.025), 3)
FINE = np.round(np.arange(0.30, 0.6501, 0.005), 3)
TARGET_FAR = 0.01
CALIBRATION_SIZE = 300
SIZES = (50, 100, 150, 300)
EXTRAPOLATED_SIZES = (1000, 3000)
SIZE_THRESHOLDS = (0.40, 0.45, 0.50, 0.55, 0.60)
TOP_KS = (10, 25, 50, 100, 200)
COHORT_SIZES = (100, 300)


@dataclass(frozen=True)
class Photo:
    path: Path
    person: str
    source: str  # "identities", "unknown" or "pool"


def shared_photos(facedata: Path = FACEDATA) -> list[Photo]:
    """Every photo the bench uses: identities/ (person by person, by photo number), unknown/, faces_pool/."""
    people = sorted(folder for folder in (facedata / "identities").iterdir() if folder.is_dir())
    photos = [
        Photo(photo, folder.name, "identities")
        for folder in people
        for photo in sorted(folder.glob("*.jpg"), key=lambda path: int(path.stem))
    ]
    photos += [
        Photo(photo, photo.stem.rsplit("_", 1)[0], "unknown")
        for photo in sorted((facedata / "unknown").glob("*.jpg"))
    ]
    with open(facedata / "faces_pool" / "manifest.csv", newline="") as manifest:
        photos += [
            Photo(facedata / "faces_pool" / row["file"], row["person"], "pool")
            for row in sorted(csv.DictReader(manifest), key=lambda row: row["file"])
        ]
    return photos


def codes_version() -> str:
    """Names the code every photo gets: the weights files, their converters' versions, the pipeline's source."""
    digest = hashlib.sha256(Engine.model_version.encode())
    for kind, spec in sorted(KINDS.items()):
        digest.update(f"{kind}:{spec.version}:".encode())
        digest.update(hashlib.sha256(dat_path(spec.dat_name).read_bytes()).digest())
    for source in CODE_SOURCES:
        path = REPO / source
        digest.update(source.encode() + (path.read_bytes() if path.is_file() else b"absent"))
    return digest.hexdigest()[:16]


def central_face(faces: Sequence[Face], height: int, width: int) -> Face | None:
    """The photo's subject: LFW photos are centred on their subject, and some show other people beside."""
    return min(
        faces,
        key=lambda face: np.hypot((face.box[0] + face.box[2] - width) / 2, (face.box[1] + face.box[3] - height) / 2),
        default=None,
    )


def face_codes(photos: Sequence[Photo]) -> np.ndarray:
    """(n, 128) float32 codes of each photo's central face, a NaN row where no face was found.

    Cached under $FACEGATE_CACHE_DIR/bench keyed by `codes_version()` and the photo's path under the face data,
    saved as it goes, so an interrupted run resumes where it stopped.
    """
    store = cache_dir() / "bench" / f"identify-codes-{codes_version()}.npz"
    known: dict[str, np.ndarray] = {}
    if store.is_file():
        with np.load(store) as cached:
            known = dict(zip(cached["paths"].tolist(), cached["codes"], strict=True))
    keys = [photo.path.resolve().relative_to(FACEDATA.resolve()).as_posix() for photo in photos]
    missing = [(key, photo) for key, photo in zip(keys, photos, strict=True) if key not in known]
    if missing:
        analyse = engine().analyse
        started = time.monotonic()
        for done, (key, photo) in enumerate(missing, 1):
            image = np.asarray(Image.open(photo.path).convert("RGB"))
            face = central_face(analyse(image), *image.shape[:2])
            known[key] = face.code if face is not None else np.full(128, np.nan, np.float32)
            if done % _SAVE_EVERY == 0 or done == len(missing):
                _save(store, known)
                rate = done / (time.monotonic() - started)
                print(f"codes: {done}/{len(missing)} new, {rate:.1f} photos/s", file=sys.stderr, flush=True)
    return np.stack([known[key] for key in keys]).astype(np.float32)


def _save(store: Path, known: dict[str, np.ndarray]) -> None:
    store.parent.mkdir(parents=True, exist_ok=True)
    partial = store.with_name(f".{store.stem}.{os.getpid()}.tmp.npz")
    np.savez(partial, paths=np.array(list(known)), codes=np.stack(list(known.values())).astype(np.float32))
    os.replace(partial, store)


# ------------------------------------------------------------------------------------------------ protocol


def bucket(name: str, salt: str) -> int:
    """A stable 0..99 draw per person name, so splits never depend on file order or on random state."""
    return int(hashlib.sha1(f"{salt}:{name}".encode()).hexdigest(), 16) % 100


@dataclass
class FaceSet:
    """The photos with a face, as arrays: one row per photo."""

    codes: np.ndarray
    person: np.ndarray  # index into `names`
    source: np.ndarray  # "identities", "unknown", "pool"
    rank: np.ndarray  # position among the person's photos with a face, by photo number
    half: np.ndarray  # 0 or 1: the person's half for calibrate-then-test
    cohort: np.ndarray  # pool photos set aside as the T-norm cohort
    names: list[str]

    @classmethod
    def build(cls, photos: Sequence[Photo], codes: np.ndarray) -> "FaceSet":
        found = ~np.isnan(codes[:, 0])
        photos = [photo for photo, ok in zip(photos, found, strict=True) if ok]
        keys = [(photo.source, photo.person) for photo in photos]
        names = list(dict.fromkeys(keys))
        ids = {key: index for index, key in enumerate(names)}
        person = np.array([ids[key] for key in keys])
        rank = np.zeros(len(photos), int)
        for at in range(1, len(photos)):
            rank[at] = rank[at - 1] + 1 if person[at] == person[at - 1] else 0
        return cls(
            codes=codes[found],
            person=person,
            source=np.array([photo.source for photo in photos]),
            rank=rank,
            half=np.array([bucket(photo.person, "half") % 2 for photo in photos]),
            cohort=np.array([photo.source == "pool" and bucket(photo.person, "cohort") < COHORT_SHARE for photo in photos]),
            names=[f"{source}/{name}" for source, name in names],
        )

    @property
    def identity_people(self) -> np.ndarray:
        return np.unique(self.person[self.source == "identities"])

    @property
    def strangers(self) -> np.ndarray:
        """Never-enrolled probes that no gallery size uses up: unknown/ and the pool outside the cohort."""
        return (self.source == "unknown") | ((self.source == "pool") & ~self.cohort)


@dataclass
class Outcome:
    """The best match of every probe, pooled over gallery draws; scores are distances unless normalised."""

    genuine_score: np.ndarray
    genuine_right: np.ndarray  # the best match is the probe's own person
    genuine_half: np.ndarray
    impostor_score: np.ndarray
    impostor_source: np.ndarray  # "unknown", "pool" (strangers) or "identities" (held out of this gallery)
    impostor_half: np.ndarray

    @classmethod
    def pooled(cls, outcomes: Sequence["Outcome"]) -> "Outcome":
        return cls(*(np.concatenate([getattr(o, name) for o in outcomes]) for name in cls.__dataclass_fields__))

    def half(self, half: int) -> "Outcome":
        genuine, impostor = self.genuine_half == half, self.impostor_half == half
        return Outcome(
            self.genuine_score[genuine], self.genuine_right[genuine], self.genuine_half[genuine],
            self.impostor_score[impostor], self.impostor_source[impostor], self.impostor_half[impostor],
        )

    def impostors(self, sources: Sequence[str] = STRANGERS) -> np.ndarray:
        return self.impostor_score[np.isin(self.impostor_source, sources)]

    def far(self, threshold: float, sources: Sequence[str] = STRANGERS) -> float:
        scores = self.impostors(sources)
        return float(np.mean(scores <= threshold)) if len(scores) else math.nan

    def tar(self, threshold: float) -> float:
        return float(np.mean(self.genuine_right & (self.genuine_score <= threshold)))

    def misidentified(self, threshold: float) -> float:
        return float(np.mean(~self.genuine_right & (self.genuine_score <= threshold)))

    @property
    def rank1(self) -> float:
        return float(np.mean(self.genuine_right))

    def threshold_for(self, far: float) -> float:
        """The largest threshold at which at most `far` of the stranger probes are accepted."""
        scores = np.sort(self.impostors())
        allowed = math.floor(far * len(scores) + 1e-9)
        return float(np.nextafter(scores[allowed], -np.inf)) if allowed < len(scores) else math.inf


def run(faces: FaceSet, enrolled: np.ndarray, photos_each: int, normaliser: ScoreNormaliser | None = None) -> Outcome:
    """Enrol `enrolled` people from their first photos and search with every probe; see the protocol above."""
    counts = np.bincount(faces.person, minlength=len(faces.names))
    is_enrolled = np.isin(faces.person, enrolled)
    in_gallery = is_enrolled & (faces.rank < np.maximum(1, np.minimum(photos_each, counts - 1))[faces.person])
    genuine = is_enrolled & ~in_gallery
    impostor = faces.strangers | ((faces.source == "identities") & ~is_enrolled)
    gallery = Gallery()
    gallery.add(np.flatnonzero(in_gallery), faces.person[in_gallery], faces.codes[in_gallery])

    def best(probes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        found = gallery.identify(faces.codes[probes], threshold=math.inf, k=1, normaliser=normaliser)
        return (
            np.array([result.matches[0].person_id for result in found]),
            np.array([result.matches[0].score for result in found]),
        )

    genuine_person, genuine_score = best(genuine)
    _, impostor_score = best(impostor)
    return Outcome(
        genuine_score, genuine_person == faces.person[genuine], faces.half[genuine],
        impostor_score, faces.source[impostor], faces.half[impostor],
    )


def galleries(faces: FaceSet, size: int, draws: int, seed: int = 0) -> list[np.ndarray]:
    """`draws` random sets of `size` identities/ people (one set, everyone, when size covers them all)."""
    people = faces.identity_people
    if size >= len(people):
        return [people]
    rng = np.random.default_rng(seed)
    return [np.sort(rng.choice(people, size, replace=False)) for _ in range(draws)]


# ------------------------------------------------------------------------------------------------ report


def percent(value: float) -> str:
    return f"{100 * value:6.2f}%" if np.isfinite(value) else "     - "


def print_curve(title: str, outcome: Outcome, held_out: bool) -> None:
    print(f"\n{title}\n  rank-1 (closed set, no threshold): {percent(outcome.rank1)} of "
          f"{len(outcome.genuine_score)} genuine probes; {len(outcome.impostors())} stranger probes"
          + (f", {len(outcome.impostors(['identities']))} held-out identities probes" if held_out else ""))
    print("  threshold   FAR strangers  FAR unknown/" + ("  FAR held-out" if held_out else "") + "      TAR    misID")
    for threshold in CURVE:
        row = f"  {threshold:9.3f}   {percent(outcome.far(threshold))}        {percent(outcome.far(threshold, ['unknown']))}"
        if held_out:
            row += f"      {percent(outcome.far(threshold, ['identities']))}"
        print(f"{row}   {percent(outcome.tar(threshold))}  {percent(outcome.misidentified(threshold))}")


def pairwise_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    squared = (a**2).sum(1)[:, None] + (b**2).sum(1)[None] - 2 * a.astype(np.float64) @ b.T
    return np.sqrt(np.maximum(squared, 0))


def far_per_probe(faces: FaceSet, photos_each: int) -> np.ndarray:
    """(stranger probes, thresholds): the share of all identities/ people each stranger comes within reach of.

    A gallery of N people drawn from the same population then accepts a stranger with probability
    1 - (1 - share)^N, which extrapolates FAR to galleries larger than the data.
    """
    counts = np.bincount(faces.person, minlength=len(faces.names))
    people = faces.identity_people
    in_gallery = np.isin(faces.person, people) & (
        faces.rank < np.maximum(1, np.minimum(photos_each, counts - 1))[faces.person]
    )
    strangers = faces.codes[faces.strangers]
    distances = pairwise_distances(strangers, faces.codes[in_gallery])
    nearest = np.full((len(strangers), len(people)), np.inf)
    columns = np.searchsorted(people, faces.person[in_gallery])
    np.minimum.at(nearest.T, columns, distances.T)
    return np.stack([(nearest <= threshold).mean(axis=1) for threshold in FINE], axis=1)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--codes-only", action="store_true", help="compute and cache the codes, then stop")
    parser.add_argument("--draws", type=int, default=10, help="random galleries per size under 303 people")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the machine is shared)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    photos = shared_photos()
    codes = face_codes(photos)
    if args.codes_only:
        return
    faces = FaceSet.build(photos, codes)
    faceless = collections.Counter(photo.source for photo, code in zip(photos, codes, strict=True) if np.isnan(code[0]))
    print(f"codes {codes_version()}: {len(photos)} photos, no face found in {dict(faceless)}")
    print(f"{len(faces.identity_people)} identities/ people; strangers: {np.sum(faces.source == 'unknown')} "
          f"unknown/ + {np.sum((faces.source == 'pool') & ~faces.cohort)} faces_pool photos; "
          f"cohort: {faces.cohort.sum()} faces_pool photos")

    def pooled(size: int, photos_each: int, normaliser: ScoreNormaliser | None = None) -> Outcome:
        return Outcome.pooled([run(faces, people, photos_each, normaliser) for people in galleries(faces, size, args.draws)])

    # The claim: 150 people enrolled from one photo each, strangers within dlib's 0.6.
    within = [run(faces, people, 1).far(0.6, ["unknown"]) for people in galleries(faces, 150, args.draws)]
    print(f"\nclaim: N=150 enrolled from one photo each, {args.draws} draws: {percent(np.mean(within))} of the "
          f"500 unknown/ people come within 0.6 of someone (draws {percent(min(within))} .. {percent(max(within))})")

    print_curve("N=150, one photo each", pooled(150, 1), held_out=True)
    print_curve("N=300, one photo each", pooled(300, 1), held_out=False)
    print_curve(f"N=300, up to {MAX_PHOTOS} photos each", pooled(300, MAX_PHOTOS), held_out=False)

    # FAR against gallery size; past the data, extrapolated from each stranger's reach into the population.
    for photos_each in (1, MAX_PHOTOS):
        reach = far_per_probe(faces, photos_each)
        print(f"\nFAR (strangers) against gallery size N, {'one photo' if photos_each == 1 else f'up to {photos_each} photos'} each"
              f"; 'model' = mean over strangers of 1 - (1 - reach)^N")
        print("       N " + "".join(f"   FAR@{t:.2f}" for t in SIZE_THRESHOLDS) + "   thr FAR 1%  TAR there  model thr 1%")
        for size in (*SIZES, *EXTRAPOLATED_SIZES):
            model = 1 - (1 - reach) ** size
            model_threshold = FINE[np.flatnonzero(model.mean(0) <= TARGET_FAR)].max()
            if size in EXTRAPOLATED_SIZES:
                columns = "".join(f"   {percent(model.mean(0)[FINE == t][0])}" for t in SIZE_THRESHOLDS)
                print(f"  {size:6d} {columns}   (extrapolated)            {model_threshold:9.3f}")
                continue
            outcome = pooled(size, photos_each)
            threshold = outcome.threshold_for(TARGET_FAR)
            columns = "".join(f"   {percent(outcome.far(t))}" for t in SIZE_THRESHOLDS)
            print(f"  {size:6d} {columns}   {threshold:9.3f}    {percent(outcome.tar(threshold))}  {model_threshold:9.3f}")

    # The default: the largest threshold that keeps FAR within the target at N=300 with several photos each
    # (more photos per person give strangers more chances), checked by calibrating on one half of the probes
    # (split by person) and measuring on the other, then set from all of them.
    raw = pooled(CALIBRATION_SIZE, MAX_PHOTOS)
    print(f"\ncalibration: FAR <= {percent(TARGET_FAR).strip()} at N={CALIBRATION_SIZE}, up to {MAX_PHOTOS} photos each")
    for calibrate in (0, 1):
        threshold = raw.half(calibrate).threshold_for(TARGET_FAR)
        test = raw.half(1 - calibrate)
        print(f"  set on half {calibrate}: {threshold:.4f}; on half {1 - calibrate}: FAR {percent(test.far(threshold))}"
              f"  TAR {percent(test.tar(threshold))}  misID {percent(test.misidentified(threshold))}")
    threshold = raw.threshold_for(TARGET_FAR)
    print(f"  set on all strangers: {threshold:.4f}, rounded down to {math.floor(threshold * 200) / 200:.3f}")
    for photos_each in (1, MAX_PHOTOS):
        outcome = raw if photos_each == MAX_PHOTOS else pooled(CALIBRATION_SIZE, 1)
        print(f"  DEFAULT_THRESHOLD {DEFAULT_THRESHOLD} at N={CALIBRATION_SIZE}, {photos_each} photo(s) each: "
              f"FAR {percent(outcome.far(DEFAULT_THRESHOLD))}  FAR unknown/ {percent(outcome.far(DEFAULT_THRESHOLD, ['unknown']))}"
              f"  TAR {percent(outcome.tar(DEFAULT_THRESHOLD))}  misID {percent(outcome.misidentified(DEFAULT_THRESHOLD))}")

    # T-norm: each candidate's threshold is set on one half of the probes and measured on the other; the
    # cohort (faces_pool people set aside) shares no one with the gallery or the probes.
    cohort = faces.codes[faces.cohort]
    candidates: dict[str, Outcome] = {"raw distance": raw}
    for top_k in (*TOP_KS, len(cohort)):
        candidates[f"T-norm top {top_k}"] = pooled(CALIBRATION_SIZE, MAX_PHOTOS, TNorm(cohort, top_k))
    for size in COHORT_SIZES:
        subset = np.random.default_rng(size).choice(len(cohort), size, replace=False)
        candidates[f"T-norm top {TNORM_TOP_K}, cohort {size}"] = pooled(
            CALIBRATION_SIZE, MAX_PHOTOS, TNorm(cohort[subset], TNORM_TOP_K)
        )
    print(f"\nscore normalisation, N={CALIBRATION_SIZE}, up to {MAX_PHOTOS} photos each, cohort {len(cohort)} faces; "
          f"'set' = threshold for FAR {percent(TARGET_FAR).strip()} on the calibration half")
    for calibrate in (0, 1):
        print(f"  calibrate on half {calibrate}, test on half {1 - calibrate}")
        print("    normaliser                       set    TAR cal |  FAR test  TAR test  misID  | TAR@FAR1% TAR@FAR0.1% (test's own threshold)")
        for name, outcome in candidates.items():
            cal, test = outcome.half(calibrate), outcome.half(1 - calibrate)
            threshold = cal.threshold_for(TARGET_FAR)
            print(f"    {name:28s} {threshold:8.4f}  {percent(cal.tar(threshold))} |  {percent(test.far(threshold))}  "
                  f"{percent(test.tar(threshold))}  {percent(test.misidentified(threshold))} | "
                  f"{percent(test.tar(test.threshold_for(TARGET_FAR)))}  {percent(test.tar(test.threshold_for(TARGET_FAR / 10)))}")


if __name__ == "__main__":
    main()
