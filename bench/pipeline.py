"""Frame posted -> door command received over MQTT, on the real services, for one face at 640x480.

    nice -n 5 .venv/bin/python -m bench.pipeline                    # from the repository root
    nice -n 5 .venv/bin/python -m bench.pipeline --samples 100 --frames 100 --min-face-size 120
    nice -n 5 .venv/bin/python -m bench.pipeline --torch-threads 1       # the worker's torch on one thread

Needs PostgreSQL, Redis and Mosquitto as the tests do (deploy/local/start-test-services.sh); reads the
settings of `access.settings.test`. It makes a scratch database (dropped at the end), starts one real Celery
worker (prefork, one process) on it, enrolls one person from the first frame of a real talking-head clip and
lets them through a door that decides on one frame (K = N = 1, no cooldown), then:

1. latency: posts a later frame of the clip through the camera push endpoint (the real view, with the
   camera's device token, in this process) and times until the door controller, subscribed on Mosquitto,
   receives the open command; waits past the door's window between samples so each frame is a new passage;
2. throughput: posts a burst of frames and times the worker through all of them (frames/s per worker); the
   worker runs with FACEGATE_MAX_FRAME_AGE_S raised so a queued burst is not dropped as stale;
3. stages: with the worker stopped, runs the same frame function in this process with the engine's models
   and the gallery search timed: detect, parse (face parsing and keypoints), align, code, search, decide
   (tracking and the event, under the camera lock) and publish (the MQTT door command).
"""

import argparse
import base64
import os
import queue
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import cv2
import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
FACEDATA = Path(os.environ.get("FACEGATE_FACEDATA") or REPO_ROOT.parent / "shared" / "facedata")
CLIP = FACEDATA / "video" / "WDA_KatieHill_000.mp4"
FRAME_SIZE = (640, 480)
TARGET_P50_MS, TARGET_P99_MS, TARGET_FPS = 150.0, 400.0, 10.0
DOOR_WINDOW_S = 0.3  # the bench door's T: a track unseen this long is gone, the next frame a new passage
COMMAND_WAIT_S = 15.0
WORKER_START_S = 120.0
STAGES = ("detect", "parse", "align", "code", "search", "decide", "publish")
MODEL_STAGES = ("detect", "parse", "code", "search")  # timed by wrapping the models; align is the rest


def clip_frames(count: int) -> list[np.ndarray]:
    """The clip's first frame (to enroll) and `count` later ones, 640x480 RGB: the square frame scaled to
    480 rows, its sides extended to 640 columns."""
    capture = cv2.VideoCapture(str(CLIP))
    frames = []
    ok, frame = capture.read()
    while ok:
        frames.append(frame)
        ok, frame = capture.read()
    capture.release()
    if len(frames) < 100:
        raise SystemExit(f"could not read the clip {CLIP} (set FACEGATE_FACEDATA)")
    width, height = FRAME_SIZE
    picked = [frames[0]] + [frames[50 + index % (len(frames) - 50)] for index in range(count)]
    out = []
    for bgr in picked:
        scaled = cv2.resize(bgr, (height, height), interpolation=cv2.INTER_AREA)
        side = (width - height) // 2
        framed = cv2.copyMakeBorder(scaled, 0, 0, side, width - height - side, cv2.BORDER_REPLICATE)
        out.append(cv2.cvtColor(framed, cv2.COLOR_BGR2RGB))
    return out


def jpeg(pixels: np.ndarray) -> bytes:
    ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR))
    assert ok
    return encoded.tobytes()


class DoorController:
    """A real MQTT client on the door's command topic, as the relay would be."""

    def __init__(self, host: str, port: int, topic: str):
        import paho.mqtt.client as mqtt

        self.received: queue.Queue[float] = queue.Queue()
        subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-{uuid.uuid4().hex[:8]}")
        self.client.on_connect = lambda client, *_: client.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.on_message = lambda *_: self.received.put(time.perf_counter())
        self.client.connect(host, port)
        self.client.loop_start()
        if not subscribed.wait(10):
            raise SystemExit(f"could not subscribe to {topic} on {host}:{port}")

    def wait(self) -> float | None:
        """perf_counter() when the next command arrived; None when none came within COMMAND_WAIT_S."""
        try:
            return self.received.get(timeout=COMMAND_WAIT_S)
        except queue.Empty:
            return None

    def forget(self) -> None:
        """Drop commands that came in late, so that none is taken for the next frame's."""
        while not self.received.empty():
            self.received.get()

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def start_worker(database_name: str, folder: Path, max_frame_age_s: float, torch_threads: int | None):
    from django.conf import settings

    database_url = urlsplit(os.environ["DATABASE_URL"])._replace(path=f"/{database_name}").geturl()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "access.settings.test",
        "DATABASE_URL": database_url,
        "MEDIA_ROOT": str(folder / "media"),
        "FACEGATE_GALLERY_DIR": str(folder / "gallery"),
        "FACEGATE_MAX_FRAME_AGE_S": str(max_frame_age_s),
        "FACEGATE_HA_DISCOVERY_PREFIX": settings.FACEGATE_HA_DISCOVERY_PREFIX,
    }
    if torch_threads:
        env["FACEGATE_TORCH_THREADS"] = str(torch_threads)  # the worker's engine sets torch's threads from it
    name = f"bench-{os.getpid()}@{socket.gethostname()}"
    command = [sys.executable, "-m", "celery", "-A", "access", "worker", "-Q", "frames,enrollment,default",
               "--pool", "prefork", "--concurrency", "1", "-n", name, "--loglevel", "WARNING",
               "--without-gossip", "--without-mingle"]  # fmt: skip
    log = (folder / "worker.log").open("wb")
    worker = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)  # fmt: skip
    from access.celery import app

    deadline = time.monotonic() + WORKER_START_S
    while not app.control.ping(destination=[name], timeout=1.0):
        if worker.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the worker did not start; see {folder / 'worker.log'}")
    return worker


def stop_worker(worker: subprocess.Popen) -> None:
    worker.terminate()
    try:
        worker.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(worker.pid, 9)
        worker.wait()


def make_site(enroll_pixels: np.ndarray, min_face_size: int, topic: str):
    """A door deciding on one frame, its camera, and one allowed person enrolled by the worker."""
    from access.cameras.models import Camera
    from access.core.images import decode_image
    from access.doors.models import Door
    from access.people import services as people
    from access.people.models import Consent, FaceSample, Person
    from access.watchlists.models import AllowEntry
    from recognition import tasks

    door = Door.objects.create(name="Bench door", controller_kind="mqtt", mqtt_topic=topic, grant_frames=1,
                               window_frames=1, window_seconds=DOOR_WINDOW_S, cooldown_seconds=0)  # fmt: skip
    camera = Camera.objects.create(name="Bench camera", source_url="rtsp://bench.invalid/stream", door=door,
                                   min_face_size=min_face_size)  # fmt: skip
    person = Person.objects.create(name="Katie Hill", external_id="BENCH-1")
    Consent.objects.create(person=person, method=Consent.Method.SIGNED_FORM)
    AllowEntry.objects.create(person=person, door=door)
    sample = people.add_sample(person, decode_image(jpeg(enroll_pixels)))
    state = tasks.enroll_sample.delay(sample.pk).get(timeout=WORKER_START_S)
    if state != FaceSample.State.ENROLLED:
        raise SystemExit(f"the bench person was not enrolled: {FaceSample.objects.get(pk=sample.pk)}")
    return camera


def device_client(camera):
    from rest_framework.test import APIClient

    from access.cameras.services import issue_device_token

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {issue_device_token(camera)}")
    return client


def post(client, camera, body: dict) -> None:
    response = client.post(f"/api/cameras/{camera.pk}/frames/", body, format="json")
    if response.status_code != 202 or not response.json()["queued"]:
        raise SystemExit(f"the frame was not queued: {response.status_code} {response.content[:300]!r}")


def frame_body(pixels: np.ndarray) -> dict:
    return {"image_base64": base64.b64encode(jpeg(pixels)).decode()}


def bench_latency(camera, frames: list[np.ndarray], controller: DoorController) -> tuple[list[float], int]:
    """Seconds from posting each frame to its door command, and how many frames brought none (the face not
    found or not matched in that frame, or no command within COMMAND_WAIT_S)."""
    client = device_client(camera)
    bodies = [frame_body(pixels) for pixels in frames]
    post(client, camera, bodies[0])  # the worker's first frame loads the engine and gallery: not counted
    controller.wait()
    latencies, missed = [], 0
    for body in bodies:
        time.sleep(DOOR_WINDOW_S * 2)
        controller.forget()
        started = time.perf_counter()
        post(client, camera, body)
        received = controller.wait()
        if received is None:
            missed += 1
        else:
            latencies.append(received - started)
    return latencies, missed


def bench_throughput(camera, frames: list[np.ndarray]) -> float:
    """Frames/s the worker gets through a burst of queued frames (the first one opens the door, the rest
    follow the same track)."""
    from access.cameras.models import CameraHealth

    client = device_client(camera)
    bodies = [frame_body(pixels) for pixels in frames]
    time.sleep(DOOR_WINDOW_S * 2)
    done_before = CameraHealth.objects.get(camera=camera).frames_analysed
    started = time.perf_counter()
    for body in bodies:
        post(client, camera, body)
    while CameraHealth.objects.get(camera=camera).frames_analysed < done_before + len(bodies):
        time.sleep(0.01)
    return len(bodies) / (time.perf_counter() - started)


def timed(method: Callable, stage: str, spent: dict[str, float]) -> Callable:
    def run(*args, **kwargs):
        started = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            spent[stage] = spent.get(stage, 0.0) + time.perf_counter() - started

    return run


def bench_stages(camera, frames: list[np.ndarray]) -> dict[str, list[float]]:
    """Milliseconds per stage per frame, the frame function run in this process on the scratch database."""
    from access.decisions.services import process_frame
    from recognition import tasks

    task = tasks.process_frame
    engine, gallery = task.engine, task.synced_gallery()
    spent: dict[str, float] = {}
    engine.detector.detect_batch = timed(engine.detector.detect_batch, "detect", spent)
    engine.keypoints.get = timed(engine.keypoints.get, "parse", spent)
    engine.coder.get_batch = timed(engine.coder.get_batch, "code", spent)
    gallery.identify = timed(gallery.identify, "search", spent)
    per_stage: dict[str, list[float]] = {stage: [] for stage in STAGES}
    process_frame(camera.pk, jpeg(frames[0]), time.time(), "warm-up", engine=engine, gallery=gallery,
                  scoring=task.scoring)  # fmt: skip
    for index, pixels in enumerate(frames):
        time.sleep(DOOR_WINDOW_S * 2)
        spent.clear()
        stages: dict[str, float] = {}
        data = jpeg(pixels)
        events = process_frame(camera.pk, data, time.time(), f"stages-{index}", engine=engine,
                               gallery=gallery, scoring=task.scoring, stages=stages)  # fmt: skip
        if not events:  # the face not found or not matched in this frame: no grant to time
            continue
        spent["align"] = stages["recognise"] - sum(spent.get(stage, 0.0) for stage in MODEL_STAGES)
        spent["decide"], spent["publish"] = stages["decide"], stages.get("publish", 0.0)
        for stage in STAGES:
            per_stage[stage].append(1000 * spent.get(stage, 0.0))
    return per_stage


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def verdict(ok: bool) -> str:
    return "meets" if ok else "MISSES"


def report(latencies_ms: list[float], missed: int, fps: float, stages: dict[str, list[float]], args) -> None:
    import torch

    if not latencies_ms:
        raise SystemExit(f"no frame brought a door command ({missed} tried); see the worker log")
    p50, p99 = percentile(latencies_ms, 50), percentile(latencies_ms, 99)
    print(f"\nFaceGate pipeline bench: one face, {FRAME_SIZE[0]}x{FRAME_SIZE[1]}, camera min_face_size "
          f"{args.min_face_size}, 1 worker process, torch threads {torch.get_num_threads()}, "
          f"{os.cpu_count()} CPUs visible, load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(f"frame posted -> door command on MQTT, {len(latencies_ms)} samples ({missed} frames brought no "
          f"command within {COMMAND_WAIT_S:.0f} s):")  # fmt: skip
    print(f"  p50 {p50:7.1f} ms   target <= {TARGET_P50_MS:.0f} ms   {verdict(p50 <= TARGET_P50_MS)}")
    print(f"  p99 {p99:7.1f} ms   target <= {TARGET_P99_MS:.0f} ms   {verdict(p99 <= TARGET_P99_MS)}")
    print(f"  min {min(latencies_ms):7.1f} ms   max {max(latencies_ms):.1f} ms")
    print(f"throughput, {args.frames} queued frames: {fps:.1f} frames/s per worker   target >= "
          f"{TARGET_FPS:.0f}   {verdict(fps >= TARGET_FPS)}")  # fmt: skip
    print(f"stages (in-process, median of the {len(stages['detect'])} frames that granted, ms):")
    for stage in STAGES:
        median, p99 = statistics.median(stages[stage]), percentile(stages[stage], 99)
        print(f"  {stage:8s} {median:7.1f}   p99 {p99:7.1f}")
    total = sum(statistics.median(stages[stage]) for stage in STAGES)
    print(f"  {'sum':8s} {total:7.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=60, help="latency samples (default 60)")
    parser.add_argument("--frames", type=int, default=60, help="frames in the throughput burst (default 60)")
    parser.add_argument("--stage-frames", type=int, default=20, help="frames for the stage breakdown")
    parser.add_argument("--min-face-size", type=int, default=80, help="the camera's min_face_size (px)")
    parser.add_argument(
        "--torch-threads", type=int, help="torch CPU threads per engine (default: FACEGATE_TORCH_THREADS, 1)"
    )
    args = parser.parse_args()
    if args.torch_threads:
        os.environ["FACEGATE_TORCH_THREADS"] = str(args.torch_threads)  # for the engine in this process too

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "access.settings.test")
    import django

    django.setup()
    from django.conf import settings
    from django.test.utils import setup_databases, teardown_databases

    prefix = f"facegate-bench/{uuid.uuid4().hex[:8]}"
    settings.FACEGATE_HA_DISCOVERY_PREFIX = f"{prefix}/homeassistant"
    settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = f"test_facegate_bench_{os.getpid()}"
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    broker = urlsplit(settings.MQTT_URL)
    frames = clip_frames(max(args.samples, args.frames, args.stage_frames))
    databases = setup_databases(verbosity=0, interactive=False)
    worker = None
    try:
        with tempfile.TemporaryDirectory(prefix="facegate-bench-") as scratch:
            settings.MEDIA_ROOT = str(Path(scratch) / "media")
            worker = start_worker(settings.DATABASES["default"]["NAME"], Path(scratch), max_frame_age_s=3600,
                                  torch_threads=args.torch_threads)  # fmt: skip
            camera = make_site(frames[0], args.min_face_size, f"{prefix}/door")
            controller = DoorController(broker.hostname, broker.port or 1883, f"{prefix}/door/set")
            try:
                latencies, missed = bench_latency(camera, frames[1 : args.samples + 1], controller)
                fps = bench_throughput(camera, frames[1 : args.frames + 1])
                stop_worker(worker)
                worker = None
                settings.FACEGATE_GALLERY_DIR = Path(scratch) / "gallery-bench"
                stages = bench_stages(camera, frames[1 : args.stage_frames + 1])
            finally:
                controller.close()
            report([1000 * seconds for seconds in latencies], missed, fps, stages, args)
    finally:
        if worker is not None:
            stop_worker(worker)
        from django.db import connections

        connections.close_all()
        teardown_databases(databases, verbosity=0)


if __name__ == "__main__":
    main()
