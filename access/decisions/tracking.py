"""Pure track bookkeeping: which face of a frame continues which track, and when a track's frames agree.

No ORM here, so the rules are tested on plain values; `services` stores the state.
"""

from collections import Counter
from dataclasses import dataclass

Box = tuple[float, float, float, float]  # x1, y1, x2, y2

# Two boxes of one face in consecutive frames overlap at least this much (intersection over union); at 5-10
# frames/s a person walking to a door moves far less than that between frames.
MIN_IOU = 0.3
# Observations kept per track: enough for any window and to recognise a retried frame.
KEPT_OBSERVATIONS = 16
UNKNOWN = "unknown"
# A followed face's centre is looked for in the next frame this many face widths (heights, up and down)
# from where it was: half a width for the head's own turns and nods, plus how far across the view a person
# walking up to a door moves per second (1.5 m/s at an angle to the camera, with faces about 0.16 m wide),
# for the time since it was last seen. Only centres need the room: the detector's cells there see the whole
# face around them.
FOLLOW_MARGIN = 0.5
FOLLOW_SPEED = 3.0  # face widths per second


@dataclass(frozen=True)
class Observation:
    frame_id: str
    at: float  # Unix time the frame was captured
    person_id: int | None  # None: nobody enrolled matched
    distance: float | None

    @property
    def identity(self) -> str:
        return identity_key(self.person_id)

    def to_json(self) -> dict:
        return {"frame": self.frame_id, "at": self.at, "person": self.person_id, "distance": self.distance}

    @classmethod
    def from_json(cls, data: dict) -> "Observation":
        return cls(data["frame"], data["at"], data["person"], data["distance"])


@dataclass(frozen=True)
class Window:
    """How a door turns a track's frames into one identity: K of the last N frames within T seconds."""

    grant_frames: int  # K
    window_frames: int  # N
    window_seconds: float  # T


def identity_key(person_id: int | None) -> str:
    return UNKNOWN if person_id is None else f"person-{person_id}"


def iou(first: Box, second: Box) -> float:
    width = min(first[2], second[2]) - max(first[0], second[0])
    height = min(first[3], second[3]) - max(first[1], second[1])
    if width <= 0 or height <= 0:
        return 0.0
    overlap = width * height
    union = _area(first) + _area(second) - overlap
    return overlap / union if union > 0 else 0.0


def _area(box: Box) -> float:
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])


def match_boxes(track_boxes: list[Box], face_boxes: list[Box], min_iou: float = MIN_IOU) -> list[int | None]:
    """For each face, the index of the track it continues, or None for a new track.

    Greedy on overlap, best pairs first, each track taken at most once: two people side by side keep their own
    tracks as long as each face overlaps its own previous box more than the other's.
    """
    pairs = sorted(
        (
            (overlap, face, track)
            for face, face_box in enumerate(face_boxes)
            for track, track_box in enumerate(track_boxes)
            if (overlap := iou(face_box, track_box)) >= min_iou
        ),
        reverse=True,
    )
    assigned: list[int | None] = [None] * len(face_boxes)
    taken: set[int] = set()
    for _, face, track in pairs:
        if assigned[face] is None and track not in taken:
            assigned[face] = track
            taken.add(track)
    return assigned


def settled_identity(observations: list[Observation], window: Window) -> str | None:
    """The identity K of the last N observations agree on, all within T seconds of the newest; None while
    they do not agree yet. An enrolled person beats 'unknown' when both reach K (N >= 2K)."""
    recent = sorted(observations, key=lambda seen: seen.at)[-window.window_frames :]
    if not recent:
        return None
    newest = recent[-1].at
    counts = Counter(seen.identity for seen in recent if newest - seen.at <= window.window_seconds)
    agreed = [key for key, count in counts.most_common() if count >= window.grant_frames]
    people = [key for key in agreed if key != UNKNOWN]
    return (people or agreed or [None])[0]


def undecided_identity(observations: list[Observation], decided: list[str], window: Window) -> str | None:
    """The identity the track settled on when it has not been decided for it yet, else None.

    Nobody enrolled is decided only for a track not decided for anyone: a person let in who then turns away
    from the camera is not denied as a stranger.
    """
    identity = settled_identity(observations, window)
    if identity is None or identity in decided or (identity == UNKNOWN and decided):
        return None
    return identity


def follow_area(box: Box, elapsed_s: float) -> Box:
    """Where the centre of a face last seen at `box` `elapsed_s` seconds ago can be now (maybe out of the
    frame): the area the next frame searches, keeping the faces centred in it."""
    x1, y1, x2, y2 = box
    reach = FOLLOW_MARGIN + FOLLOW_SPEED * max(elapsed_s, 0.0)
    dx, dy = reach * (x2 - x1), reach * (y2 - y1)
    centre_x, centre_y = (x1 + x2) / 2, (y1 + y2) / 2
    return (centre_x - dx, centre_y - dy, centre_x + dx, centre_y + dy)
