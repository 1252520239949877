"""Frame posted -> door command received over MQTT, on the real services, for one face at 640x480.

    nice -n 5 .venv/bin/python -m bench.pipeline                     # from the repository root
    nice -n 5 .venv/bin/python -m bench.pipeline --rescan-ms 0       # no tracking: every frame searched whole
    nice -n 5 .venv/bin/python -m bench.pipeline --passage-frames 1  # a door that opens on one frame
    nice -n 5 .venv/bin/python -m bench.pipeline --region 0.2,0,0.8,1  # faces looked for in part of the frame
    nice -n 5 .venv/bin/python -m bench.pipeline --shared-cores 0    # no core sharing: one thread a process
    nice -n 5 .venv/bin/python -m bench.pipeline --concurrency 1 --torch-threads 2  # one process, 2 threads

Needs PostgreSQL, Redis and Mosquitto as the tests do (deploy/local/start-test-services.sh); reads the
settings of `access.settings.test`. It makes a scratch database (dropped at the end), starts one real Celery
worker on it as `deploy/Procfile` runs it (prefork, Celery's default of one process per CPU, each task on
its own core, its model stages borrowing the idle ones: `recognition.cores`; `--concurrency`,
`--torch-threads` and `--shared-cores` change them), enrolls one person from the first frame of a real
talking-head clip and lets them through a door that decides as a door does by default, on K = 2 agreeing
frames of N = 3 (`--passage-frames K`, N = max(K, 3); no cooldown), then:

1. latency: for each sample, a new passage: its frames are posted through the camera push endpoint (the
   real view, with the camera's device token, in this process) one by one, a camera frame interval apart,
   until one opens the door; that frame is timed from its post until the door controller, subscribed on
   Mosquitto, receives the open command; split into the push (the view), the worker (queue, recognition,
   decision, until the command is sent) and the broker (until the controller has it). It is frame K when
   the face matched in every frame, a later one when it did not; a passage whose N frames bring no command
   is counted as not opened. The bench waits past the door's window between samples, so each passage's
   first frame finds no face followed: with K = 1 the timed frame is searched over the whole detection
   region; with K >= 2 and tracking on, around the face the earlier frames found;
2. throughput: queues a burst of frames as the camera service does, stamped one camera frame apart at the
   target rate (10 frames/s), so tracking rescans the whole region as often as it would live, and times
   the worker through all of them (frames/s per worker); the worker runs with FACEGATE_MAX_FRAME_AGE_S
   raised so a queued burst is not dropped as stale;
3. stages: with the worker stopped, runs the same frame function in this process on the same passages,
   with the engine's models and the gallery search timed: detect, parse (face parsing and keypoints), align,
   code, search, decide (tracking and the event, under the camera lock) and publish (the MQTT door command).

The camera's detection region (`--region`, default the whole frame) and tracking (`--rescan-ms`, the camera's
rescan_interval_ms; default 500 as a camera's, 0 switches it off) are printed with the figures: a figure
that depends on them is only as good as the installation that sets them.
"""

import argparse
import base64
import json
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
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import cv2
import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
FACEDATA = Path(os.environ.get("FACEGATE_FACEDATA") or REPO_ROOT.parent / "shared" / "facedata")
CLIP = FACEDATA / "video" / "WDA_KatieHill_000.mp4"
FRAME_SIZE = (640, 480)
TARGET_P50_MS, TARGET_P99_MS, TARGET_FPS = 150.0, 400.0, 10.0
# The bench door's T: a track unseen this long is gone, the next frame a new passage. It spans a passage's N
# frames, analysed one after the other.
PASSAGE_WINDOW_S = 1.5
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

        self.received: queue.Queue[tuple[float, float, dict]] = queue.Queue()
        subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-{uuid.uuid4().hex[:8]}")
        self.client.on_connect = lambda client, *_: client.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.on_message = lambda _client, _data, message: self.received.put(
            (time.perf_counter(), time.time(), json.loads(message.payload))
        )
        self.client.connect(host, port)
        self.client.loop_start()
        if not subscribed.wait(10):
            raise SystemExit(f"could not subscribe to {topic} on {host}:{port}")

    def wait(self, timeout: float = COMMAND_WAIT_S) -> tuple[float, float, dict] | None:
        """When the next command arrived (perf_counter(), time.time()) and its payload, as soon as it does;
        None when none came within `timeout` seconds."""
        try:
            return self.received.get(timeout=timeout)
        except queue.Empty:
            return None

    def forget(self) -> None:
        """Drop commands that came in late, so that none is taken for the next frame's."""
        while not self.received.empty():
            self.received.get()

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def start_worker(database_name: str, folder: Path, max_frame_age_s: float, concurrency: int):
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
    name = f"bench-{os.getpid()}@{socket.gethostname()}"
    command = [sys.executable, "-m", "celery", "-A", "access", "worker", "-Q", "frames,enrollment,default",
               "--pool", "prefork", "--concurrency", str(concurrency), "-n", name, "--loglevel", "WARNING",
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


def make_site(enroll_pixels: np.ndarray, args: argparse.Namespace, topic: str):
    """A door granting on K agreeing frames, its camera, and one allowed person enrolled by the worker."""
    from access.cameras.models import Camera
    from access.core.images import decode_image
    from access.doors.models import Door
    from access.people import services as people
    from access.people.models import Consent, FaceSample, Person
    from access.watchlists.models import AllowEntry
    from recognition import tasks

    door = Door.objects.create(name="Bench door", controller_kind="mqtt", mqtt_topic=topic,
                               grant_frames=args.passage_frames, window_frames=window_frames(args),
                               window_seconds=PASSAGE_WINDOW_S, cooldown_seconds=0)  # fmt: skip
    left, top, right, bottom = args.region
    camera = Camera.objects.create(name="Bench camera", source_url="rtsp://bench.invalid/stream", door=door,
                                   min_face_size=args.min_face_size, frame_rate=TARGET_FPS,
                                   region_left=left, region_top=top, region_right=right, region_bottom=bottom,
                                   rescan_interval_ms=args.rescan_ms)  # fmt: skip
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


def frames_analysed(camera) -> int:
    from access.cameras.models import CameraHealth

    health = CameraHealth.objects.filter(camera=camera).first()
    return 0 if health is None else health.frames_analysed


def passages(frames: list[np.ndarray], count: int, length: int) -> list[list[np.ndarray]]:
    """`count` passages of `length` consecutive clip frames each."""
    return [[frames[(index + step) % len(frames)] for step in range(length)] for index in range(count)]


@dataclass
class LatencySample:
    total: float  # seconds from posting the deciding frame to the controller receiving the command
    push: float  # the push view, until it answered
    worker: float  # from the view's answer until the worker sent the command
    broker: float  # from then until the controller had it


def bench_latency(camera, passages_: list[list[np.ndarray]], controller: DoorController):
    """Each passage's frames posted one by one, a camera frame apart, until one opens the door: that frame,
    from its post to its door command. Also which frame of its passage each was, and how many passages none
    of whose frames opened the door (the face not found or not matched in enough of them)."""
    client = device_client(camera)
    post(client, camera, frame_body(passages_[0][0]))  # the worker's first frame: not counted
    controller.wait()
    samples, opened_by, missed = [], Counter(), 0
    for passage in passages_:
        time.sleep(camera.door.window_seconds * 2)
        controller.forget()
        for position, pixels in enumerate(passage, start=1):
            body = frame_body(pixels)
            started, done_before = time.perf_counter(), frames_analysed(camera)
            post(client, camera, body)
            answered, answered_wall = time.perf_counter(), time.time()
            received = command_or_none(controller, camera, done_before)
            if received is not None:
                received_at, received_wall, payload = received
                sent_wall = datetime.fromisoformat(payload["timestamp"]).timestamp()
                samples.append(LatencySample(received_at - started, answered - started,
                                             sent_wall - answered_wall,
                                             received_wall - sent_wall))  # fmt: skip
                opened_by[position] += 1
                break
            time.sleep(max(0.0, started + 1 / TARGET_FPS - time.perf_counter()))
        else:
            missed += 1
    return samples, opened_by, missed


def command_or_none(controller: DoorController, camera, done_before: int) -> tuple[float, float, dict] | None:
    """The door command the frame just posted brought, or None once it was analysed without one."""
    deadline = time.monotonic() + COMMAND_WAIT_S
    while time.monotonic() < deadline:
        received = controller.wait(0.01)  # the analysed count is read between short waits
        if received is not None:
            return received
        if frames_analysed(camera) > done_before:
            break
    # a command published just before the count went up may still be on its way from the broker
    return controller.wait(0.05)


def bench_throughput(camera, frames: list[np.ndarray]) -> float:
    """Frames/s the worker gets through a burst of queued frames stamped one camera frame apart (the first
    one opens the door, the rest follow the same track)."""
    from access.cameras.services import enqueue_frame

    encoded = [jpeg(pixels) for pixels in frames]
    time.sleep(camera.door.window_seconds * 2)
    done_before = frames_analysed(camera)
    started, stamped = time.perf_counter(), time.time()
    for index, data in enumerate(encoded):
        enqueue_frame(camera.pk, data, stamped + index / TARGET_FPS)
    while frames_analysed(camera) < done_before + len(encoded):
        time.sleep(0.01)
    return len(encoded) / (time.perf_counter() - started)


def timed(method: Callable, stage: str, spent: dict[str, float]) -> Callable:
    def run(*args, **kwargs):
        started = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            spent[stage] = spent.get(stage, 0.0) + time.perf_counter() - started

    return run


def bench_stages(camera, passages_: list[list[np.ndarray]]) -> tuple[dict[str, list[float]], Counter]:
    """Milliseconds per stage of each passage's deciding frame, the frame function run in this process on
    the scratch database; and how the deciding frames were searched."""
    from access.decisions import services
    from recognition import pipeline, tasks

    task = tasks.process_frame
    engine, gallery = task.engine, task.synced_gallery()
    spent: dict[str, float] = {}
    # The engine's two ways in, the whole frame and areas of it (which may run the detector's own pass).
    engine.detect_batch = timed(engine.detect_batch, "detect", spent)
    pipeline.detect_in_areas = timed(pipeline.detect_in_areas, "detect", spent)
    engine.keypoints.get = timed(engine.keypoints.get, "parse", spent)
    engine.coder.get_batch = timed(engine.coder.get_batch, "code", spent)
    gallery.identify = timed(gallery.identify, "search", spent)
    plans: list = []
    plan = services.search_plan
    services.search_plan = lambda *args: plans.append(plan(*args)) or plans[-1]

    def run(pixels: np.ndarray, frame_id: str, stages: dict | None = None) -> list:
        with engine.task():  # on the cores a worker's task runs on, alone on the host
            return services.process_frame(camera.pk, jpeg(pixels), time.time(), frame_id, engine=engine,
                                          gallery=gallery, scoring=task.scoring, stages=stages)  # fmt: skip

    run(passages_[0][0], "warm-up")
    per_stage: dict[str, list[float]] = {stage: [] for stage in STAGES}
    searched: Counter = Counter()
    for index, passage in enumerate(passages_):
        time.sleep(camera.door.window_seconds * 2)
        *leading, deciding = passage
        for step, pixels in enumerate(leading):
            run(pixels, f"stages-{index}-{step}")
            time.sleep(1 / TARGET_FPS)
        spent.clear()
        stages: dict[str, float] = {}
        events = run(deciding, f"stages-{index}", stages)
        if not events:  # the face not found or not matched in this frame: no grant to time
            continue
        searched["whole region" if plans[-1].whole_region else "around the followed face"] += 1
        spent["align"] = stages["recognise"] - sum(spent.get(stage, 0.0) for stage in MODEL_STAGES)
        spent["decide"], spent["publish"] = stages["decide"], stages.get("publish", 0.0)
        for stage in STAGES:
            per_stage[stage].append(1000 * spent.get(stage, 0.0))
    return per_stage, searched


def window_frames(args: argparse.Namespace) -> int:
    """N: the frames of a passage the door counts, as a door does by default (K at the least)."""
    from access.doors.models import Door

    return max(args.passage_frames, Door._meta.get_field("window_frames").default)


def sharing(engine) -> str:
    threads = engine.config.torch_threads
    if engine.cores is None:
        return f"{threads} torch thread(s) a task, no core sharing"
    return f"each task on {threads} core(s), its model stages borrowing idle ones of {engine.cores.count}"


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def verdict(ok: bool) -> str:
    return "meets" if ok else "MISSES"


def describe_mode(args: argparse.Namespace) -> list[str]:
    region = tuple(args.region)
    whole = region == (0.0, 0.0, 1.0, 1.0)
    width, height = FRAME_SIZE
    region_px = f"{(region[2] - region[0]) * width:.0f}x{(region[3] - region[1]) * height:.0f} px"
    tracking = (
        f"on, frames searched around followed faces, the whole region every {args.rescan_ms} ms"
        if args.rescan_ms
        else "off (--rescan-ms 0): every frame searched over the whole region"
    )
    deciding = (
        "searched over the whole region"
        if args.passage_frames == 1 or not args.rescan_ms
        else "searched around the face the earlier frames found"
    )
    described = "the whole frame (no region set)" if whole else f"{region} of the frame ({region_px})"
    lines = [
        f"detection region: {described}",
        f"tracking: {tracking}",
        f"door: grants on {args.passage_frames} agreeing frames of {window_frames(args)}; a new passage's "
        f"frames are posted a camera frame apart until one opens the door, and that one is timed: frame "
        f"{args.passage_frames} at the earliest, {deciding}",
    ]
    return lines


def report(samples: list[LatencySample], opened_by: Counter, missed: int, fps: float,
           stages: dict[str, list[float]], searched: Counter, args: argparse.Namespace) -> None:  # fmt: skip
    from recognition.pipeline import engine

    if not samples:
        raise SystemExit(f"no frame brought a door command ({missed} tried); see the worker log")
    latencies_ms = [1000 * sample.total for sample in samples]
    p50, p99 = percentile(latencies_ms, 50), percentile(latencies_ms, 99)
    print(f"\nFaceGate pipeline bench: one face, {FRAME_SIZE[0]}x{FRAME_SIZE[1]}, camera min_face_size "
          f"{args.min_face_size}, 1 worker of {args.concurrency} processes, {sharing(engine())}, "
          f"{os.cpu_count()} CPUs visible, load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    for line in describe_mode(args):
        print(f"  {line}")
    which = ", ".join(f"frame {position}: {count}" for position, count in sorted(opened_by.items()))
    print(f"frame posted -> door command on MQTT, {len(samples)} passages opened the door ({which}); "
          f"{missed} did not (the face unmatched in too many of its frames):")  # fmt: skip
    print(f"  p50 {p50:7.1f} ms   target <= {TARGET_P50_MS:.0f} ms   {verdict(p50 <= TARGET_P50_MS)}")
    print(f"  p99 {p99:7.1f} ms   target <= {TARGET_P99_MS:.0f} ms   {verdict(p99 <= TARGET_P99_MS)}")
    print(f"  min {min(latencies_ms):7.1f} ms   max {max(latencies_ms):.1f} ms")
    for part, meaning in (("push", "the push view"), ("worker", "queue + worker until the command went out"),
                          ("broker", "Mosquitto to the controller")):  # fmt: skip
        values = [1000 * getattr(sample, part) for sample in samples]
        print(f"    {part:7s} median {statistics.median(values):6.1f} ms   ({meaning})")
    print(f"throughput, {args.frames} queued frames stamped {1000 / TARGET_FPS:.0f} ms apart: {fps:.1f} "
          f"frames/s per worker   target >= {TARGET_FPS:.0f}   {verdict(fps >= TARGET_FPS)}")  # fmt: skip
    counted = len(stages["detect"])
    how = ", ".join(f"{count} {where}" for where, count in searched.items())
    print(f"stages (in-process, median of the {counted} deciding frames that granted: {how}; ms):")
    for stage in STAGES:
        median, p99 = statistics.median(stages[stage]), percentile(stages[stage], 99)
        print(f"  {stage:8s} {median:7.1f}   p99 {p99:7.1f}")
    total = sum(statistics.median(stages[stage]) for stage in STAGES)
    print(f"  {'sum':8s} {total:7.1f}")


def region_argument(text: str) -> tuple[float, float, float, float]:
    try:
        left, top, right, bottom = (float(edge) for edge in text.split(","))
    except ValueError as exc:
        raise argparse.ArgumentTypeError("expected left,top,right,bottom, e.g. 0.2,0,0.8,1") from exc
    if not (0 <= left < right <= 1 and 0 <= top < bottom <= 1):
        raise argparse.ArgumentTypeError(
            "the region's edges are fractions of the frame: 0 <= left < right <= 1"
        )
    return left, top, right, bottom


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=60, help="latency samples (default 60)")
    parser.add_argument("--frames", type=int, default=60, help="frames in the throughput burst (default 60)")
    parser.add_argument("--stage-frames", type=int, default=20, help="frames for the stage breakdown")
    parser.add_argument("--min-face-size", type=int, default=80, help="the camera's min_face_size (px)")
    parser.add_argument(
        "--region",
        type=region_argument,
        default=(0.0, 0.0, 1.0, 1.0),
        help="the camera's detection region, left,top,right,bottom fractions (default: whole)",
    )
    parser.add_argument(
        "--rescan-ms",
        type=int,
        default=500,
        help="the camera's rescan_interval_ms (default 500, a camera's; 0: no tracking)",
    )
    parser.add_argument(
        "--passage-frames",
        type=int,
        help="K: the door grants on K agreeing frames, the K-th of each passage timed (default: a door's, 2)",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=os.cpu_count(),
        help="worker processes (default: Celery's, one per CPU, as deploy/Procfile runs the worker)",
    )
    parser.add_argument(
        "--torch-threads", type=int, help="torch CPU threads per task (default: FACEGATE_TORCH_THREADS, 1)"
    )
    parser.add_argument(
        "--shared-cores",
        type=int,
        help="cores the worker's tasks share, stages borrowing idle ones (default: FACEGATE_SHARED_CORES, "
        "all the CPUs; 0: none, each task on its own threads only)",
    )
    args = parser.parse_args()
    # Set for the engine in this process and, through the environment, the worker's.
    for variable, value in (("FACEGATE_TORCH_THREADS", args.torch_threads),
                            ("FACEGATE_SHARED_CORES", args.shared_cores)):  # fmt: skip
        if value is not None:
            os.environ[variable] = str(value)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "access.settings.test")
    import django

    django.setup()
    from django.conf import settings

    from access.doors.models import Door

    if args.passage_frames is None:
        args.passage_frames = Door._meta.get_field("grant_frames").default
    from django.test.utils import setup_databases, teardown_databases

    prefix = f"facegate-bench/{uuid.uuid4().hex[:8]}"
    settings.FACEGATE_HA_DISCOVERY_PREFIX = f"{prefix}/homeassistant"
    settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = f"test_facegate_bench_{os.getpid()}"
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    broker = urlsplit(settings.MQTT_URL)
    frames = clip_frames(max(args.samples, args.frames, args.stage_frames) + window_frames(args))
    databases = setup_databases(verbosity=0, interactive=False)
    worker = None
    try:
        with tempfile.TemporaryDirectory(prefix="facegate-bench-") as scratch:
            settings.MEDIA_ROOT = str(Path(scratch) / "media")
            worker = start_worker(settings.DATABASES["default"]["NAME"], Path(scratch), max_frame_age_s=3600,
                                  concurrency=args.concurrency)  # fmt: skip
            camera = make_site(frames[0], args, f"{prefix}/door")
            controller = DoorController(broker.hostname, broker.port or 1883, f"{prefix}/door/set")
            later = frames[1:]
            try:
                samples, opened_by, missed = bench_latency(camera, passages(later, args.samples,
                                                                            window_frames(args)),
                                                controller)  # fmt: skip
                fps = bench_throughput(camera, later[: args.frames])
                stop_worker(worker)
                worker = None
                settings.FACEGATE_GALLERY_DIR = Path(scratch) / "gallery-bench"
                stages, searched = bench_stages(
                    camera, passages(later, args.stage_frames, args.passage_frames)
                )
            finally:
                controller.close()
            report(samples, opened_by, missed, fps, stages, searched, args)
    finally:
        if worker is not None:
            stop_worker(worker)
        from django.db import connections

        connections.close_all()
        teardown_databases(databases, verbosity=0)


if __name__ == "__main__":
    main()
