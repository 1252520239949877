"""From pixels to faces with codes: the one path every caller takes (InsightFace's FaceAnalysis shape).

`Engine` owns the face detector, the keypoint model and the face coder, loaded once per process
(`engine()`), and runs them in order: detect -> keypoints -> chip -> code, each step batched over every face
of every image it is given. The keypoint model is any object with `prepare(device)` and `get(img, face)`
filling `face.keypoints`; the chip is fitted on those of its points named in the model's `template` (where
they sit in dlib's chip), or in `recognition.align.TEMPLATE`, dlib's mean face, for a model without one.
`recognition.keypoints.ParsingKeypoints` derives the points from the face parser's segments and also fills
`face.parsing` and `face.visibility` (occlusion verdicts). It becomes the default once the committed parser
aligns faces as well as dlib's 5-point predictor (`bench.identify --alignments`); until then the default is
the 5-point predictor (`recognition.models.landmarks.LandmarkPredictor`), whose chips the face-code network
was trained on.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np
import torch

from recognition.align import TEMPLATE, face_chip
from recognition.config import EngineConfig
from recognition.models.detector import FaceDetector
from recognition.models.facecode import CHIP_SIZE, FaceCoder
from recognition.models.landmarks import LandmarkPredictor
from recognition.quality import QualityVerdict, assess, conflicting_person
from recognition.types import Face, Point

if TYPE_CHECKING:
    from recognition.gallery import Gallery

__all__ = ["Engine", "Enrollment", "KeypointModel", "engine", "resolve_device"]

# An enrollment photo with no face at full size is looked at doubled only up to this size: past it, a face
# under the detector's 80 px is a small part of the photo anyway, and the doubled pyramid of a 12 Mpx photo
# would take over a gigabyte.
ENROLLMENT_UPSAMPLE_MAX_PIXELS = 2_000_000


class KeypointModel(Protocol):
    """Fills `face.keypoints` (named, image pixels) for a detected face. A model whose points are not
    dlib's mean-face points also has a `template`: name -> where the point sits in the unit face square of
    dlib's chip (`recognition.align.chip_transform`)."""

    def prepare(self, device: str = "cpu") -> None: ...

    def get(self, img: np.ndarray, face: Face) -> dict[str, Point]: ...


@dataclass(frozen=True)
class Enrollment:
    """What an enrollment photo gave: its faces (with codes) and the quality verdict on them."""

    faces: list[Face]
    verdict: QualityVerdict

    @property
    def code(self) -> np.ndarray | None:
        """The face code to enroll, or None when the photo was rejected."""
        return self.faces[0].code if self.verdict.accepted else None


def resolve_device(device: str) -> str:
    """'auto' -> 'cuda' when torch sees a GPU, else 'cpu'; 'cuda' without one raises."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' was asked for, but torch sees no CUDA device")
    if device not in ("cpu", "cuda"):
        raise ValueError(f"unknown device {device!r}; expected 'auto', 'cpu' or 'cuda'")
    return device


class Engine:
    """Faces, keypoints, chips and codes of RGB images: `analyse(image)` or `analyse_batch(images)`."""

    model_version = "dlib_face_recognition_resnet_model_v1"  # codes of other models are not comparable

    def __init__(self, config: EngineConfig | None = None, keypoints: KeypointModel | None = None):
        self.config = config if config is not None else EngineConfig.from_env()
        self.detector = FaceDetector()
        self.keypoints = keypoints if keypoints is not None else LandmarkPredictor()
        self.template: Mapping[str, Point] = getattr(self.keypoints, "template", TEMPLATE)
        self.coder = FaceCoder()
        self.prepare(self.config.device)

    def prepare(self, device: str = "auto") -> None:
        """Move every model to `device` ('auto', 'cpu' or 'cuda'), with the configured torch CPU threads."""
        self.device = resolve_device(device)
        torch.set_num_threads(self.config.torch_threads)
        for model in (self.detector, self.keypoints, self.coder):
            model.prepare(self.device)

    def detect_batch(
        self, images: Sequence[np.ndarray], min_face_size: int | None = None, upsample: int = 0
    ) -> list[list[Face]]:
        """Detected faces (box and score) of each (H, W, 3) uint8 RGB image, best first.

        min_face_size: no box narrower than this many pixels is returned, and the detector skips the pyramid
        levels that could only give such boxes (a face a little smaller may come out on a larger box).
        upsample: look at the images doubled this many times, to find faces under the detector's 80 px.
        """
        faces: list[list[Face]] = []
        for start in range(0, len(images), self.config.batch_size):
            chunk = images[start : start + self.config.batch_size]
            faces += self.detector.detect_batch(chunk, min_face_size=min_face_size, upsample=upsample)
        if min_face_size:
            faces = [[face for face in found if face.width >= min_face_size] for found in faces]
        return faces

    def analyse_batch(
        self, images: Sequence[np.ndarray], min_face_size: int | None = None, upsample: int = 0
    ) -> list[list[Face]]:
        """Every face of each image with box, score, keypoints, chip and code; see `detect_batch`."""
        faces = self.detect_batch(images, min_face_size, upsample)
        for image, found in zip(images, faces, strict=True):
            for face in found:
                self.keypoints.get(image, face)
                aligning = {name: xy for name, xy in face.keypoints.items() if name in self.template}
                face.chip = face_chip(image, aligning, size=CHIP_SIZE, template=self.template)
        self._code([face for found in faces for face in found])
        return faces

    def analyse(self, image: np.ndarray, min_face_size: int | None = None, upsample: int = 0) -> list[Face]:
        """Every face of one image with box, score, keypoints, chip and code, best first."""
        return self.analyse_batch([image], min_face_size, upsample)[0]

    def analyse_enrollment(
        self, image: np.ndarray, gallery: Gallery | None = None, person_id: int | None = None
    ) -> Enrollment:
        """The faces of an enrollment photo and the quality verdict on them.

        When no face is found at full size a photo of up to 2 Mpx is looked at again doubled, so that a face
        too small to use is reported as too small rather than as missing. With a gallery, a face that comes
        within the match threshold of another person's samples is rejected too.
        """
        faces = self.analyse(image)
        if not faces and image.shape[0] * image.shape[1] <= ENROLLMENT_UPSAMPLE_MAX_PIXELS:
            faces = self.analyse(image, upsample=1)
        verdict = assess(faces, self.config.quality)
        if verdict.accepted and gallery is not None:
            if person_id is None:
                raise ValueError("checking against the gallery needs the person_id being enrolled")
            reason = self.conflict_reason(gallery, faces[0].code, person_id)
            if reason:
                verdict = verdict.rejected_for(reason)
        return Enrollment(faces, verdict)

    def conflict_reason(self, gallery: Gallery, code: np.ndarray, person_id: int) -> str:
        """Why `code` cannot be enrolled for `person_id`: it could be taken for someone else; "" if it can."""
        match = conflicting_person(gallery, code, person_id, self.config.match_threshold)
        if match is None:
            return ""
        return (
            f"the face is {match.distance:.2f} from person {match.person_id}'s samples, within the "
            f"match threshold {self.config.match_threshold:.2f}: it could be taken for that person"
        )

    def _code(self, faces: list[Face]) -> None:
        for start in range(0, len(faces), self.config.batch_size):
            chunk = faces[start : start + self.config.batch_size]
            codes = self.coder.get_batch(np.stack([face.chip for face in chunk]))
            for face, code in zip(chunk, codes, strict=True):
                face.code = code


_engine: Engine | None = None
_engine_lock = threading.Lock()


def engine() -> Engine:
    """The process's engine, built from the environment on first use (one per Celery worker process)."""
    global _engine
    with _engine_lock:
        if _engine is None:
            _engine = Engine()
        return _engine
