"""What the camera service costs per camera: CPU while it plays a real clip as a live camera would, and the
per-frame time of its motion gate and JPEG encode.

    nice -n 5 .venv/bin/python -m bench.cameras                     # from the repository root
    nice -n 5 .venv/bin/python -m bench.cameras --frame-rate 10 --clip /path/to/clip.mp4

The clip is read through the service's own OpenCV reader, paced to its frame rate, through the capture and
send loops; frames go to a sink that keeps them (no broker), so the figures are the camera side alone.
"""

import argparse
import os
import statistics
import threading
import time
from pathlib import Path

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "access.settings.test")
django.setup()

from access.cameras.services import encode_jpeg  # noqa: E402
from access.cameras.sources import parse_source  # noqa: E402
from access.cameras.stream.gate import MotionGate  # noqa: E402
from access.cameras.stream.loop import (  # noqa: E402
    Backoff,
    DropOldestQueue,
    FrameStats,
    capture_frames,
    send_frames,
)
from access.cameras.stream.reader import OpenCVReader  # noqa: E402
from tests.facedata import FACEDATA  # noqa: E402

DEFAULT_CLIP = FACEDATA / "video" / "facenet_pytorch_video.mp4"


class Sink:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, jpeg: bytes, captured_at: float) -> "Sink":
        self.count += 1
        return self

    def ready(self) -> bool:
        return True


def play(clip: Path, frame_rate: float) -> dict[str, float]:
    totals: dict[str, int] = {}

    def report(counters: dict[str, int], _fps: float | None) -> None:
        for name, amount in counters.items():
            totals[name] = totals.get(name, 0) + amount

    stats = FrameStats(report)
    frames, stop, capture_done = DropOldestQueue(2), threading.Event(), threading.Event()
    sink = Sink()
    sender = threading.Thread(
        target=send_frames,
        args=(frames, sink, stop),
        kwargs={"stats": stats, "max_in_flight": 2, "max_jpeg_bytes": 10_000_000, "in_flight_timeout_s": 1.0,
                "capture_done": capture_done},
    )
    wall, cpu = time.perf_counter(), time.process_time()
    sender.start()
    capture_frames(OpenCVReader(parse_source(str(clip))), MotionGate(), frames, stop, frame_rate=frame_rate,
                   stats=stats, backoff=Backoff(), max_pixels=40_000_000)
    capture_done.set()
    sender.join()
    stats.flush(alive=False)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"wall_s": wall, "cpu_s": cpu, "read": totals.get("read", 0), "sent": totals.get("sent", 0)}


def per_frame_ms(clip: Path) -> dict[str, float]:
    reader = OpenCVReader(parse_source(str(clip)), paced=False)
    reader.open()
    pixels = []
    while (frame := reader.read()) is not None:
        pixels.append(frame.pixels)
    reader.close()
    gate, gate_ms, jpeg_ms = MotionGate(), [], []
    for index, frame in enumerate(pixels):
        start = time.perf_counter()
        gate.passes(frame, at=index / 25)
        gate_ms.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        encode_jpeg(frame)
        jpeg_ms.append((time.perf_counter() - start) * 1000)
    return {"gate_ms": statistics.median(gate_ms), "jpeg_ms": statistics.median(jpeg_ms),
            "size": f"{pixels[0].shape[1]}x{pixels[0].shape[0]}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", type=Path, default=DEFAULT_CLIP)
    parser.add_argument("--frame-rate", type=float, default=5.0, help="Camera.frame_rate: frames/s analysed")
    args = parser.parse_args()
    if not args.clip.is_file():
        raise SystemExit(f"no clip at {args.clip} (set FACEGATE_FACEDATA to the facedata folder)")

    played = play(args.clip, args.frame_rate)
    frames = per_frame_ms(args.clip)
    print(f"clip: {args.clip.name} ({frames['size']}), camera frame rate {args.frame_rate:g}/s")
    print(f"played as a live camera: {played['read']} frames read, {played['sent']} sent in "
          f"{played['wall_s']:.1f} s -> {played['read'] / played['wall_s']:.1f} frames/s read, "
          f"{played['sent'] / played['wall_s']:.1f} frames/s sent")
    print(f"CPU per camera: {played['cpu_s'] / played['wall_s']:.2f} cores (decode, gate, encode)")
    print(f"per frame (median): motion gate {frames['gate_ms']:.2f} ms, "
          f"JPEG encode {frames['jpeg_ms']:.1f} ms")


if __name__ == "__main__":
    main()
