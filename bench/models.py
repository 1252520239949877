"""Model speed: the torch ports against dlib-bin in the same process, on the same real faces.

    nice -n 10 .venv/bin/python -m bench.models                 # every model, from the repository root
    nice -n 10 .venv/bin/python -m bench.models facecode --rounds 9
    nice -n 10 .venv/bin/python -m bench.models detector --against HEAD~1   # and that revision's detector

Each model has a `bench_<model>` function returning rows; variants run interleaved, round after round, and the
median round counts, so load from other processes hits every variant alike. "x dlib" is dlib's per-face time
divided by this row's (the dlib row it is compared with is named in the table).
"""

import argparse
import functools
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image

from recognition.models.detector import FaceDetector
from recognition.models.facecode import FaceCoder
from recognition.models.weights import dat_path

FACEDATA = Path(
    os.environ.get("FACEGATE_FACEDATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "facedata")
)


@dataclass
class Row:
    name: str
    faces: int  # faces per call
    seconds: float  # median seconds per call
    reference: str | None = None  # name of the dlib row this one is compared with

    @property
    def per_face_ms(self) -> float:
        return 1000 * self.seconds / self.faces


def interleaved(variants: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Median seconds per call of each variant, after one warm-up call each."""
    for run in variants.values():
        run()
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, run in variants.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def dlib_chips(count: int) -> np.ndarray:
    """150x150 chips made by dlib's own pipeline from the first photo of successive shared identities."""
    import dlib

    detector = dlib.get_frontal_face_detector()
    landmarks = dlib.shape_predictor(str(dat_path("shape_predictor_5_face_landmarks.dat")))
    chips = []
    for person in sorted(p for p in (FACEDATA / "identities").iterdir() if p.is_dir()):
        image = np.asarray(Image.open(min(person.glob("*.jpg"))).convert("RGB"))
        boxes = detector(image, 1)
        if len(boxes) == 1:
            chips.append(dlib.get_face_chip(image, landmarks(image, boxes[0]), size=150, padding=0.25))
        if len(chips) == count:
            return np.stack(chips)
    raise SystemExit(f"found only {len(chips)} single-face photos under {FACEDATA / 'identities'}")


def bench_facecode(rounds: int) -> list[Row]:
    import dlib

    chips = dlib_chips(16)
    encoder = dlib.face_recognition_model_v1(str(dat_path("dlib_face_recognition_resnet_model_v1.dat")))
    coder = FaceCoder()
    chip_list = list(chips)
    seconds = interleaved(
        {
            "dlib compute_face_descriptor(chip)": lambda: encoder.compute_face_descriptor(chips[0]),
            "dlib compute_face_descriptor([16 chips])": lambda: encoder.compute_face_descriptor(chip_list),
            "torch FaceCoder batch 1": lambda: coder.get_batch(chips[:1]),
            "torch FaceCoder batch 16": lambda: coder.get_batch(chips),
        },
        rounds,
    )
    single, batched = "dlib compute_face_descriptor(chip)", "dlib compute_face_descriptor([16 chips])"
    return [
        Row(single, 1, seconds[single]),
        Row(batched, 16, seconds[batched]),
        Row("torch FaceCoder batch 1", 1, seconds["torch FaceCoder batch 1"], single),
        Row("torch FaceCoder batch 16", 16, seconds["torch FaceCoder batch 16"], batched),
    ]


# Group photos with 1 to 6 faces, one of the extra people's larger photos, then a 640x480 webcam frame.
DETECTOR_PHOTOS = (
    "scenes/group_faceapi_bbt4.jpg",
    "scenes/group_deepface_selfie-many-people.jpg",
    "scenes/group_face_recognition_obama_and_biden.jpg",
    "identities/Kit_Harington/1.jpg",
)
WEBCAM = "liveness/videos/live_real2.webm"  # 640x480, one face about 200 px wide


def webcam_frame(index: int = 80) -> np.ndarray:
    capture = cv2.VideoCapture(str(FACEDATA / WEBCAM))
    capture.set(cv2.CAP_PROP_POS_FRAMES, index)
    ok, frame = capture.read()
    capture.release()
    if not ok:
        raise SystemExit(f"cannot read frame {index} of {FACEDATA / WEBCAM}")
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


def detector_at(revision: str) -> FaceDetector:
    """The FaceDetector of recognition/models/detector.py as committed at a git revision."""
    source = subprocess.run(
        ["git", "show", f"{revision}:recognition/models/detector.py"],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as file:
        file.write(source)
    spec = importlib.util.spec_from_file_location(f"detector_at_{revision}", file.name)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    os.unlink(file.name)
    return module.FaceDetector()


def direct_multiply_adds(detector: FaceDetector, frame: np.ndarray, min_face_size: int) -> dict[str, float]:
    """Multiply-adds the network's convolutions would take, done directly, on the rows of the tiled pyramid
    that a frame's search for faces of `min_face_size` px and more runs: strided layers, stride-1 layers."""
    from recognition.models.detector import levels_for, search_levels, tiled_pyramid

    layout = tiled_pyramid(*frame.shape[:2], detector._padding, detector._outer_padding)
    layout = search_levels(layout, *levels_for(min_face_size, None), detector.decoding)
    pixels = (layout.rows[1] - layout.rows[0]) * layout.width
    work, stride = {"strided": 0.0, "stride 1": 0.0}, 1
    for conv in (module for module in detector.net.modules() if isinstance(module, torch.nn.Conv2d)):
        stride *= conv.stride[0]
        kind = "strided" if conv.stride[0] > 1 else "stride 1"
        work[kind] += pixels / stride**2 * conv.weight.numel()
    return work


def matmul_rate(seconds: float = 1.0, size: int = 1024) -> float:
    """Multiply-adds per second of a float32 matrix product on torch's threads: the most the convolutions,
    which oneDNN lowers to such products, can get from these cores."""
    a, b = torch.rand(size, size), torch.rand(size, size)
    a @ b
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        done += 1
    return done * size**3 / (time.perf_counter() - start)


def bench_detector(rounds: int, against: str | None = None) -> list[Row]:
    """Per image and per face on the same photos, then the 640x480 frame with the pyramid bounded.

    With `against`, the detector committed at that git revision also runs on the frame, interleaved.
    """
    import dlib

    model = dlib.cnn_face_detection_model_v1(str(dat_path("mmod_human_face_detector.dat")))
    detector = FaceDetector()
    photos = [np.asarray(Image.open(FACEDATA / name).convert("RGB")) for name in DETECTOR_PHOTOS]
    frame = webcam_frame()
    dlib_photos, dlib_frame = f"dlib cnn detector, {len(photos)} photos", "dlib cnn detector, 640x480 frame"
    # name: (call, images per call, the dlib row it is compared with)
    variants: dict[str, tuple[Callable[[], object], int, str | None]] = {
        dlib_photos: (lambda: [model(photo, 0) for photo in photos], len(photos), None),
        f"torch FaceDetector, {len(photos)} photos": (
            lambda: [detector.detect(photo) for photo in photos],
            len(photos),
            dlib_photos,
        ),
        dlib_frame: (lambda: model(frame, 0), 1, None),
    }
    for low, high in ((80, None), (100, None), (100, 480), (120, 480)):  # face widths searched, px
        variants[f"torch, 640x480 frame, faces {low}..{high or ''} px"] = (
            lambda low=low, high=high: detector.detect(frame, min_face_size=low, max_face_size=high),
            1,
            dlib_frame,
        )
    this_tree, revision = "torch, 640x480 frame, faces 80.. px", f"torch at {against}, faces 80.. px"
    if against:
        previous = detector_at(against)
        variants[revision] = (lambda: previous.detect(frame, min_face_size=80), 1, dlib_frame)
    seconds = interleaved({name: call for name, (call, _, _) in variants.items()}, rounds)
    faces = {dlib_photos: sum(len(model(photo, 0)) for photo in photos), dlib_frame: len(model(frame, 0))}

    print(f"\ndetector: {', '.join(DETECTOR_PHOTOS)}; frame 80 of {WEBCAM}")
    print(f"  {'variant':<42} {'ms/image':>9} {'x dlib':>8}")
    for name, (_, images, reference) in variants.items():
        ratio = f"{seconds[reference] / seconds[name]:7.1f}x" if reference else ""
        print(f"  {name:<42} {1000 * seconds[name] / images:9.1f} {ratio:>8}")
    if against:
        speed_up = seconds[revision] / seconds[this_tree]
        print(f"  this tree is {speed_up:.2f}x as fast as {against} on the frame")
    work, rate = direct_multiply_adds(detector, frame, 80), matmul_rate()
    strided_ms, all_ms = 1000 * work["strided"] / rate, 1000 * sum(work.values()) / rate
    print(
        f"  arithmetic floor, faces 80.. px: {work['strided'] / 1e9:.2f} G multiply-adds in the strided "
        f"convs and {work['stride 1'] / 1e9:.2f} G in the stride-1 ones, done directly; at this machine's "
        f"float32 matrix product rate ({rate / 1e9:.1f} G/s on {torch.get_num_threads()} threads) the "
        f"strided ones alone take {strided_ms:.1f} ms and all of them {all_ms:.1f} ms"
    )
    return [
        Row(name, faces[reference or name], seconds[name], reference)
        for name, (_, _, reference) in variants.items()
    ]


BENCHES: dict[str, Callable[[int], list[Row]]] = {"facecode": bench_facecode, "detector": bench_detector}


def print_rows(title: str, rows: list[Row]) -> None:
    by_name = {row.name: row for row in rows}
    print(f"\n{title}")
    print(f"  {'variant':<42} {'ms/face':>9} {'faces/s':>9} {'x dlib':>8}")
    for row in rows:
        ratio = f"{by_name[row.reference].per_face_ms / row.per_face_ms:7.1f}x" if row.reference else ""
        print(f"  {row.name:<42} {row.per_face_ms:9.1f} {1000 / row.per_face_ms:9.1f} {ratio:>8}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", help=f"any of: {', '.join(BENCHES)} (default: all)")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per variant (median counts)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--against", metavar="REVISION", help="also time the detector at this git revision")
    args = parser.parse_args()
    unknown = set(args.models) - set(BENCHES)
    if unknown:
        parser.error(f"unknown models {sorted(unknown)}; known: {', '.join(BENCHES)}")
    torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, {args.threads} threads; load average {os.getloadavg()[0]:.2f} "
        f"on {os.cpu_count()} CPUs"
    )
    if os.getloadavg()[0] > (os.cpu_count() or 1):
        print("the CPUs are oversubscribed: figures are noisy, and multi-threaded torch suffers most")
    benches = dict(BENCHES, detector=functools.partial(bench_detector, against=args.against))
    for model in args.models or BENCHES:
        print_rows(model, benches[model](args.rounds))


if __name__ == "__main__":
    main()
