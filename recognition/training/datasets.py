"""The 11-class face-parsing scheme and adapters that read FASSEG, LaPa and CelebAMask-HQ into it.

Every adapter yields (image, label): an (H, W, 3) uint8 RGB image and an (H, W) uint8 label map in the scheme
below. "Left" and "right" are the IMAGE's sides (smaller x = left), as in `shared/facedata/parsing/README.md`;
sources that name sides otherwise are brought to that convention by `image_left_first`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from recognition.images import read_rgb

__all__ = [
    "BACKGROUND", "SKIN", "LEFT_BROW", "RIGHT_BROW", "LEFT_EYE", "RIGHT_EYE", "NOSE", "UPPER_LIP",
    "INNER_MOUTH", "LOWER_LIP", "HAIR", "MOUTH", "NOT_A_PART", "IGNORE", "CLASS_NAMES", "FLIP_LUT",
    "CELEBAMASK_PAINT_ORDER", "FassegDataset", "LapaDataset", "CelebAMaskHQDataset", "flip_horizontal",
    "image_left_first", "face_crop", "read_label", "read_mask", "IMAGE_SUFFIXES", "SIDE_PAIRS",
]  # fmt: skip

BACKGROUND, SKIN, LEFT_BROW, RIGHT_BROW, LEFT_EYE, RIGHT_EYE, NOSE = 0, 1, 2, 3, 4, 5, 6
UPPER_LIP, INNER_MOUTH, LOWER_LIP, HAIR = 7, 8, 9, 10
MOUTH = 11  # FASSEG's superclass UPPER_LIP | INNER_MOUTH | LOWER_LIP: a partial label, p7 + p8 + p9
# Pseudo-labels' superclass BACKGROUND | SKIN | HAIR, "no face part here": far from every landmark-drawn part,
# where the landmarks cannot tell skin from hair or clutter but can tell that no eye, brow or lip is there.
NOT_A_PART = 12
IGNORE = 255  # no supervision: the loss skips these pixels

CLASS_NAMES = (
    "background", "skin", "left_brow", "right_brow", "left_eye", "right_eye",
    "nose", "upper_lip", "inner_mouth", "lower_lip", "hair",
)  # fmt: skip

SIDE_PAIRS = ((LEFT_BROW, RIGHT_BROW), (LEFT_EYE, RIGHT_EYE))

FLIP_LUT = np.arange(256, dtype=np.uint8)
"""Label lookup table for a horizontal flip: a mirrored image-left brow or eye becomes the image-right one."""
for _left, _right in SIDE_PAIRS:
    FLIP_LUT[_left], FLIP_LUT[_right] = _right, _left

MOUTH_LUT = np.arange(256, dtype=np.uint8)
"""Label lookup table onto FASSEG's classes: upper lip, inner mouth and lower lip become its MOUTH."""
MOUTH_LUT[[UPPER_LIP, INNER_MOUTH, LOWER_LIP]] = MOUTH

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


def flip_horizontal(image: np.ndarray, label: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The mirrored pair, left and right classes swapped so the labels still follow the image-left rule."""
    return np.ascontiguousarray(image[:, ::-1]), FLIP_LUT[label[:, ::-1]]


def image_left_first(label: np.ndarray) -> np.ndarray:
    """`label` with each left/right pair swapped where its "left" part lies right of its "right" part.

    Datasets disagree on whose left they mean (the subject's or the image's); comparing the two parts'
    mean x settles it per image. A pair with one part missing (a profile) is left as the source says.
    """
    fixed = label.copy()
    columns = np.arange(label.shape[1])
    for left, right in SIDE_PAIRS:
        left_mask, right_mask = label == left, label == right
        if left_mask.any() and right_mask.any():
            left_x = (left_mask.sum(0) * columns).sum() / left_mask.sum()
            right_x = (right_mask.sum(0) * columns).sum() / right_mask.sum()
            if left_x > right_x:
                fixed[left_mask], fixed[right_mask] = right, left
    return fixed


def face_crop(
    image: np.ndarray,
    label: np.ndarray | None,
    box: tuple[float, float, float, float],
    size: int,
    margin: float,
) -> tuple[np.ndarray, np.ndarray | None]:
    """The square (size, size) crop centred on a detector box (x1, y1, x2, y2), `margin` times the box's
    longer side added on every side, as the pipeline crops faces for the parser.

    The image is resampled bilinearly and the label by nearest neighbour; what lies outside the photo is
    black in the image and IGNORE in the label, since nobody labelled it.
    """
    x1, y1, x2, y2 = box
    side = max(x2 - x1, y2 - y1) * (1 + 2 * margin)
    if side <= 0 or size <= 0:
        raise ValueError(f"empty crop: box {box}, size {size}, margin {margin}")
    scale = size / side
    centre_x, centre_y = (x1 + x2) / 2, (y1 + y2) / 2
    # maps pixel centres to pixel centres: crop u = (x + 0.5 - (centre_x - side / 2)) * scale - 0.5
    matrix = np.array(
        [[scale, 0, size / 2 - centre_x * scale - 0.5 + 0.5 * scale],
         [0, scale, size / 2 - centre_y * scale - 0.5 + 0.5 * scale]]
    )  # fmt: skip
    crop = cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))
    if label is None:
        return crop, None
    label_crop = cv2.warpAffine(label, matrix, (size, size), flags=cv2.INTER_NEAREST, borderValue=IGNORE)
    return crop, label_crop


def read_label(path: Path) -> np.ndarray:
    with Image.open(path) as label:
        if label.mode not in ("L", "P"):
            raise ValueError(f"{path}: a label map must be a single-channel PNG, got mode {label.mode}")
        return np.asarray(label, dtype=np.uint8).copy()


def read_mask(path: Path) -> np.ndarray:
    """A binary part mask (CelebAMask-HQ stores some as RGB) as booleans."""
    with Image.open(path) as mask:
        return np.asarray(mask.convert("L")) > 127


class _PairDataset:
    """A list of (image path, label path) pairs, read on demand (a torch Dataset without the import)."""

    pairs: list[tuple[Path, Path]]

    def __len__(self) -> int:
        return len(self.pairs)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        return (self[index] for index in range(len(self)))

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        image_path, label_path = self.pairs[index]
        image, label = read_rgb(image_path), self._label(label_path)
        if image.shape[:2] != label.shape:
            raise ValueError(f"{label_path}: label {label.shape} does not match image {image.shape[:2]}")
        return image, label

    def _label(self, path: Path) -> np.ndarray:
        return read_label(path)


def _matched_pairs(images: Path, labels: Path, label_suffix: str = ".png") -> list[tuple[Path, Path]]:
    if not images.is_dir():
        raise FileNotFoundError(f"no image folder {images}")
    pairs = []
    for image in sorted(p for p in images.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
        label = labels / f"{image.stem}{label_suffix}"
        if not label.is_file():
            raise FileNotFoundError(f"{image} has no label {label}")
        pairs.append((image, label))
    return pairs


class FassegDataset(_PairDataset):
    """`shared/facedata/parsing/{split}/images/NAME.jpg` + `masks/NAME.png`, already in the scheme (with
    MOUTH for the merged lips and inner mouth)."""

    def __init__(self, root: Path, split: str) -> None:
        folder = Path(root) / split
        self.pairs = _matched_pairs(folder / "images", folder / "masks")


class LapaDataset(_PairDataset):
    """LaPa's official layout: `{train,val,test}/images/NAME.jpg`, `labels/NAME.png` (0-10 in the same class
    order as ours), `landmarks/NAME.txt` (106 points, unused here).

    LaPa's left/right is taken to follow its 106-point landmarks, whose first brow lies on the image-left;
    `image_left_first` enforces it per image either way.
    """

    def __init__(self, root: Path, split: str) -> None:
        if split not in ("train", "val", "test"):
            raise ValueError(f"LaPa splits are train, val and test, not {split!r}")
        folder = Path(root) / split
        self.pairs = _matched_pairs(folder / "images", folder / "labels")

    def _label(self, path: Path) -> np.ndarray:
        label = read_label(path)
        if label.max() > HAIR:
            raise ValueError(f"{path}: LaPa labels are 0-10, found {label.max()}")
        return image_left_first(label)


CELEBAMASK_PAINT_ORDER: tuple[tuple[str, int], ...] = (
    # not comparable across datasets (FASSEG's skin includes them, LaPa's does not): no supervision
    ("neck", IGNORE), ("l_ear", IGNORE), ("r_ear", IGNORE), ("ear_r", IGNORE), ("neck_l", IGNORE),
    ("cloth", BACKGROUND),  # as FASSEG
    ("skin", SKIN),
    ("hair", HAIR),  # fringes lie over the skin
    ("hat", BACKGROUND),  # over the hair it hides
    ("eye_g", IGNORE),  # frames over skin and brows are neither; the eyes painted next stay eyes
    ("nose", NOSE),
    ("l_brow", LEFT_BROW), ("r_brow", RIGHT_BROW), ("l_eye", LEFT_EYE), ("r_eye", RIGHT_EYE),
    ("u_lip", UPPER_LIP), ("l_lip", LOWER_LIP), ("mouth", INNER_MOUTH),
)  # fmt: skip
"""CelebAMask-HQ part masks, painted in this order onto background, each over the ones before."""


class CelebAMaskHQDataset(_PairDataset):
    """CelebAMask-HQ's layout: `CelebA-HQ-img/ID.jpg` (1024 px) and one binary 512 px mask per part,
    `CelebAMask-HQ-mask-anno/FOLDER/{ID:05d}_{part}.png` with FOLDER = ID // 2000, painted in
    CELEBAMASK_PAINT_ORDER. Images are shrunk to the masks' size."""

    def __init__(self, root: Path) -> None:
        root = Path(root)
        images, annotations = root / "CelebA-HQ-img", root / "CelebAMask-HQ-mask-anno"
        if not images.is_dir() or not annotations.is_dir():
            raise FileNotFoundError(f"{root} lacks CelebA-HQ-img/ or CelebAMask-HQ-mask-anno/")
        parts = {}
        for mask in annotations.glob("*/*.png"):
            number, _, part = mask.stem.partition("_")
            parts.setdefault(int(number), {})[part] = mask
        self.pairs = []
        self.parts: list[dict[str, Path]] = []
        for image in sorted(images.glob("*.jpg"), key=lambda path: int(path.stem)):
            if int(image.stem) not in parts:
                raise FileNotFoundError(f"{image} has no part masks under {annotations}")
            self.pairs.append((image, annotations))
            self.parts.append(parts[int(image.stem)])

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        image = read_rgb(self.pairs[index][0])
        masks = {part: read_mask(path) for part, path in self.parts[index].items()}
        shape = next(iter(masks.values())).shape
        label = np.full(shape, BACKGROUND, np.uint8)
        for part, value in CELEBAMASK_PAINT_ORDER:
            if part in masks:
                if masks[part].shape != shape:
                    raise ValueError(f"{self.parts[index][part]}: mask {masks[part].shape}, others {shape}")
                label[masks[part]] = value
        if image.shape[:2] != shape:
            image = cv2.resize(image, shape[::-1], interpolation=cv2.INTER_AREA)
        return image, image_left_first(label)
