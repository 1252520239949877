"""From a camera frame to access decisions: the one function the frame task wraps.

frame -> faces (box, parsing, keypoints, chip, code) -> gallery search -> tracking -> decision -> events.
Faces are looked for only where they can be: in the camera's detection region, and while the camera follows
faces, only around them, with the whole region searched again every `rescan_interval_ms` of frame time and
whenever nothing is followed (`search_plan`). Recognition runs outside any transaction; tracking and deciding
run under the row locks of the camera and its door, so frames handled by several workers at once see each
other's tracks and grants; the door opens and alerts go out once the decision has committed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING

import cv2
import numpy as np
from django.conf import settings
from django.db import transaction

from access.alerts.models import Alert
from access.alerts.services import raise_alert
from access.cameras.models import Camera, CameraHealth
from access.cameras.services import record_frame_stats
from access.core.images import DecodedImage
from access.doors.models import Door, MissingPersonPolicy
from access.doors.services import command_door
from access.events.models import Event
from access.events.services import record_event
from access.people.models import Person
from access.watchlists.services import Verdict, allow_verdict, sighting_alert, with_list_status
from recognition.images import UnreadableImage, read_rgb
from recognition.tasks import identify

from .models import Track
from .tracking import (
    KEPT_OBSERVATIONS,
    UNKNOWN,
    Box,
    Observation,
    Window,
    follow_area,
    match_boxes,
    undecided_identity,
)

if TYPE_CHECKING:
    from recognition.gallery import Gallery
    from recognition.operating_point import Scoring
    from recognition.pipeline import Engine, SearchArea

logger = logging.getLogger(__name__)

SNAPSHOT_QUALITY = 85
SNAPSHOT_BOX_COLOUR = (0, 200, 0)  # BGR
# A camera that guards no door still alerts on blocklisted and missing people, with the Door defaults.
DEFAULT_DOOR = Door()
UNKNOWN_FACE = "Unknown face: matches nobody enrolled"
WHOLE_FRAME = (0.0, 0.0, 1.0, 1.0)

Stages = dict[str, float]  # stage name -> seconds


@dataclass(frozen=True)
class Sighting:
    """One face in the frame as the engine and gallery saw it."""

    box: Box
    person_id: int | None  # the best match, None when nobody enrolled is within the threshold
    distance: float | None  # to that match; for nobody, to the nearest sample when scores are raw distances


@dataclass(frozen=True)
class Decision:
    """What a settled track comes to; `opens` says whether the door is commanded open."""

    decision: Event.Decision
    reason: str
    alert_kind: str | None = None

    @property
    def opens(self) -> bool:
        return self.decision == Event.Decision.GRANT


def process_frame(
    camera_id: int,
    jpeg: bytes,
    captured_at: float,
    frame_id: str,
    *,
    engine: Engine,
    gallery: Gallery,
    scoring: Callable[[float | None], Scoring],
    stages: Stages | None = None,
) -> list[Event]:
    """Recognise the faces of one frame, follow them across the camera's frames and decide for each person
    passing; the events this frame decided, oldest first.

    A frame older than FACEGATE_MAX_FRAME_AGE_S is dropped unread (counted stale), an unreadable one is
    counted corrupt. `scoring(camera threshold)` gives how to score faces at this camera (the task's
    `RecognitionTask.scoring`); `stages`, when given, receives the seconds spent per stage.
    """
    stages = {} if stages is None else stages
    if time.time() - captured_at > settings.FACEGATE_MAX_FRAME_AGE_S:
        record_frame_stats(camera_id, stale=1)
        return []
    camera = Camera.objects.select_related("door", "health").filter(pk=camera_id, enabled=True).first()
    if camera is None:
        logger.info("Frame %s dropped: camera %s is gone or disabled.", frame_id, camera_id)
        return []
    try:
        pixels = read_rgb(jpeg)
    except UnreadableImage as error:
        logger.warning("Frame %s of camera %s is unreadable: %s", frame_id, camera_id, error)
        record_frame_stats(camera_id, corrupt=1)
        return []
    search = search_plan(camera, pixels.shape[:2], captured_at)
    with _timed(stages, "recognise"):
        sightings = recognise(pixels, camera, engine, gallery, scoring(camera.match_threshold), search.areas)
    events: list[Event] = []
    if sightings:
        with _timed(stages, "decide"):
            events = decide(camera, sightings, pixels, captured_at, frame_id, stages)
        # The door commands and alerts run as the decision commits, inside the timing above.
        stages["decide"] -= stages.get("publish", 0.0)
    record_frame_stats(
        camera_id,
        analysed=1,
        region_searched_at=datetime.fromtimestamp(captured_at, UTC) if search.whole_region else None,
    )
    return events


@dataclass(frozen=True)
class SearchPlan:
    """Where the engine looks for faces in one frame: `areas` (None: the whole frame), and whether that is
    the camera's whole detection region or only around the faces it follows."""

    areas: list[SearchArea] | None
    whole_region: bool


def search_plan(camera: Camera, frame_size: tuple[int, int], captured_at: float) -> SearchPlan:
    """Around the faces the camera follows, as long as its whole detection region was searched within its
    `rescan_interval_ms` of frame time; else the whole region (the whole frame when the region is)."""
    from recognition.pipeline import SearchArea  # torch loads with the engine, not with this module

    height, width = frame_size
    left, top, right, bottom = camera.detection_region
    region = None if camera.detection_region == WHOLE_FRAME else [
        SearchArea((left * width, top * height, right * width, bottom * height))
    ]  # fmt: skip
    whole = SearchPlan(region, whole_region=True)
    searched_at = getattr(_health(camera), "region_searched_at", None)
    if not camera.rescan_interval_ms or searched_at is None:
        return whole
    elapsed = captured_at - searched_at.timestamp()
    if not 0 <= elapsed < camera.rescan_interval_ms / 1000:
        return whole
    at = datetime.fromtimestamp(captured_at, UTC)
    since = at - timedelta(seconds=_window(camera.door).window_seconds)
    followed = Track.objects.filter(camera=camera, last_seen_at__gte=since).values_list("box", "last_seen_at")
    areas = [
        SearchArea(follow_area(tuple(box), (at - seen_at).total_seconds()), face_width=box[2] - box[0])
        for box, seen_at in followed
    ]
    return SearchPlan(areas, whole_region=False) if areas else whole


def _health(camera: Camera) -> CameraHealth | None:
    try:
        return camera.health
    except CameraHealth.DoesNotExist:
        return None


def recognise(
    pixels: np.ndarray,
    camera: Camera,
    engine: Engine,
    gallery: Gallery,
    scoring: Scoring,
    areas: list[SearchArea] | None = None,
) -> list[Sighting]:
    """The faces of the frame (of `areas` of it, when given) no smaller than the camera's `min_face_size`,
    with whom each matches."""
    sightings = []
    for face, identification in identify(pixels, engine, gallery, scoring, camera.min_face_size, areas):
        box = tuple(float(edge) for edge in face.box)
        if identification.matches:
            best = identification.matches[0]
            sightings.append(Sighting(box, best.person_id, best.distance))
        else:
            raw = scoring.normaliser is None and np.isfinite(identification.nearest_rejected)
            sightings.append(Sighting(box, None, float(identification.nearest_rejected) if raw else None))
    return sightings


def decide(
    camera: Camera,
    sightings: list[Sighting],
    pixels: np.ndarray,
    captured_at: float,
    frame_id: str,
    stages: Stages,
) -> list[Event]:
    """Add the frame's faces to the camera's tracks and write an event for each track that settles on someone
    it has not been decided for; a frame already applied (a retried or duplicated task) changes nothing."""
    door = camera.door
    window = _window(door)
    at = datetime.fromtimestamp(captured_at, UTC)
    decided: list[tuple[Event, Decision]] = []
    with transaction.atomic():
        # One frame of this camera at a time, and of this door: its cameras share the cooldown. FOR UPDATE
        # over the door joined to the camera locks both rows in one round trip.
        if door is not None:
            Door.objects.select_for_update().filter(pk=door.pk, cameras=camera).first()
        else:
            Camera.objects.select_for_update().filter(pk=camera.pk).first()
        tracks = list(Track.objects.filter(camera=camera).order_by("pk"))
        ended = at - timedelta(seconds=window.window_seconds)
        if any(track.last_seen_at < ended for track in tracks):
            Track.objects.filter(camera=camera, last_seen_at__lt=ended).delete()
            tracks = [track for track in tracks if track.last_seen_at >= ended]
        if any(seen["frame"] == frame_id for track in tracks for seen in track.observations):
            return []
        assigned = match_boxes([tuple(track.box) for track in tracks], [seen.box for seen in sightings])
        for sighting, index in zip(sightings, assigned, strict=True):
            track = tracks[index] if index is not None else Track(camera=camera, first_seen_at=at)
            _observe(track, sighting, frame_id, captured_at, at)
            observations = [Observation.from_json(seen) for seen in track.observations]
            identity = undecided_identity(observations, track.decided, window)
            outcome = None
            if identity is not None:
                track.decided = [*track.decided, identity]
                outcome = _decide_identity(identity, door, at)
            track.save()
            if outcome is not None:
                event = _record(track, identity, outcome, sighting, camera, door, pixels, at)
                if event is not None:
                    decided.append((event, outcome))
        for event, outcome in decided:
            transaction.on_commit(partial(_act, event, outcome, stages))
    return [event for event, _ in decided]


def _window(door: Door | None) -> Window:
    door = door or DEFAULT_DOOR
    return Window(door.grant_frames, door.window_frames, door.window_seconds)


def _observe(track: Track, sighting: Sighting, frame_id: str, captured_at: float, at: datetime) -> None:
    seen = Observation(frame_id, captured_at, sighting.person_id, sighting.distance)
    track.observations = sorted([*track.observations, seen.to_json()], key=lambda entry: entry["at"])[
        -KEPT_OBSERVATIONS:
    ]
    if track.pk is None or at >= track.last_seen_at:  # frames may arrive out of order
        track.box, track.last_seen_at = list(sighting.box), at


def _decide_identity(identity: str, door: Door | None, at: datetime) -> Decision | None:
    """The decision for the person (or nobody) the track settled on; None when there is nothing to write:
    a grant within the door's cooldown of the last one, or a camera without a door seeing someone who raises
    no alert."""
    if identity == UNKNOWN:
        return None if door is None else Decision(Event.Decision.DENY, UNKNOWN_FACE)
    # One query says whether any list holds the person; the lists' own queries run only for those it does.
    person = with_list_status(Person.objects.filter(pk=_person_id(identity)), at).first()
    if person is None:  # erased since the gallery was synced
        return None
    alert = sighting_alert(person, at) if person.blocked or person.missing else None
    if door is None:
        return None if alert is None else Decision(alert.decision, alert.reason, alert.alert_kind)
    if alert is None:
        verdict = allow_verdict(person, door, at)
    elif alert.alert_kind == Alert.Kind.MISSING:
        verdict = _missing_person_verdict(alert, person, door, at)
    else:
        verdict = alert
    if verdict.decision == Event.Decision.GRANT and _granted_recently(person, door, at):
        return None
    return Decision(verdict.decision, verdict.reason, verdict.alert_kind)


def _missing_person_verdict(alert: Verdict, person: Person, door: Door, at: datetime) -> Verdict:
    """A missing person raises the alert either way; the door opens only under the follow-the-allow-list
    policy, and only when the allow list lets them in."""
    if door.missing_person_policy != MissingPersonPolicy.FOLLOW_ALLOW_LIST:
        return Verdict(alert.decision, f"{alert.reason}; the door stays locked", alert.alert_kind)
    allowed = allow_verdict(person, door, at)
    decision = Event.Decision.GRANT if allowed.decision == Event.Decision.GRANT else Event.Decision.ALERT
    return Verdict(decision, f"{alert.reason}; {allowed.reason}", alert.alert_kind)


def _granted_recently(person: Person, door: Door, at: datetime) -> bool:
    """Whether the door let this person in within its cooldown: one grant per passage, even when the
    person's track was lost and found again."""
    since = at - timedelta(seconds=door.cooldown_seconds)
    return Event.objects.filter(
        door=door, person=person, decision=Event.Decision.GRANT, occurred_at__gt=since
    ).exists()


def _person_id(identity: str) -> int:
    return int(identity.removeprefix("person-"))


def _record(
    track: Track,
    identity: str,
    outcome: Decision,
    sighting: Sighting,
    camera: Camera,
    door: Door | None,
    pixels: np.ndarray,
    at: datetime,
) -> Event | None:
    """The decision's event, keyed by track and identity so a retried task finds it written; None when it
    was written before."""
    event, created = record_event(
        f"track-{track.pk}:{identity}",
        snapshot=snapshot(pixels, sighting.box),
        face_box=sighting.box,  # issue 7: the cameras page draws recent decisions' boxes over a frame
        occurred_at=at,
        camera=camera,
        door=door,
        person_id=None if identity == UNKNOWN else _person_id(identity),
        distance=sighting.distance,
        decision=outcome.decision,
        reason=outcome.reason[:300],
    )
    return event if created else None


def _act(event: Event, outcome: Decision, stages: Stages) -> None:
    """After the decision committed: open the door for a grant, raise the alert of a sighting."""
    with _timed(stages, "publish"):
        if outcome.opens and event.door is not None:
            command_door(event.door, "open", reason=outcome.reason, event=event)
        if outcome.alert_kind is not None:
            raise_alert(
                outcome.alert_kind, event=event, person=event.person, camera=event.camera, door=event.door
            )


def snapshot(pixels: np.ndarray, box: Box) -> DecodedImage:
    """The frame as a JPEG with the face's box drawn on it."""
    image = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)
    x1, y1, x2, y2 = (round(edge) for edge in box)
    thickness = max(2, (image.shape[0] + image.shape[1]) // 400)
    cv2.rectangle(image, (x1, y1), (x2, y2), SNAPSHOT_BOX_COLOUR, thickness)
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, SNAPSHOT_QUALITY])
    if not ok:
        raise ValueError("OpenCV could not encode the snapshot as JPEG.")
    return DecodedImage(data=encoded.tobytes(), format="JPEG", width=image.shape[1], height=image.shape[0])


@contextmanager
def _timed(stages: Stages, name: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        stages[name] = stages.get(name, 0.0) + time.perf_counter() - started
