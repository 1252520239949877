"""Where the real face data for tests lives: `shared/facedata` beside the repository, or $FACEGATE_FACEDATA.

It is never copied into the repository; tests that need it skip with the path they looked at.
"""

import os
from pathlib import Path

FACEDATA = Path(
    os.environ.get("FACEGATE_FACEDATA") or Path(__file__).resolve().parents[1].parent / "shared" / "facedata"
)
