"""Where the real face data for tests lives: `shared/facedata` beside the repository, or $FACEGATE_FACEDATA.

It is never copied into the repository; tests that need it skip with the path they looked at.
"""

import os
from pathlib import Path

FACEDATA = Path(
    os.environ.get("FACEGATE_FACEDATA") or Path(__file__).resolve().parents[1].parent / "shared" / "facedata"
)
IDENTITIES = FACEDATA / "identities"
EXTRA_PEOPLE = ("Barack_Obama", "Kit_Harington", "Alex_Lacamoire")  # larger photos than LFW's 250x250


def spread_photos(count: int, pick=min) -> list[Path]:
    """One photo each (the lowest-numbered, or as `pick` chooses) of `count` LFW people spread evenly across
    the identities, then every photo of the extra people."""
    lfw_people = sorted(p for p in IDENTITIES.iterdir() if p.is_dir() and p.name not in EXTRA_PEOPLE)
    step = len(lfw_people) // count
    photos = [pick(person.glob("*.jpg"), key=lambda p: int(p.stem)) for person in lfw_people[::step][:count]]
    return photos + sorted(photo for name in EXTRA_PEOPLE for photo in (IDENTITIES / name).glob("*.jpg"))
