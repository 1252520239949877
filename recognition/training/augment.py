"""Augmentations of (image, label) parsing pairs for door cameras: mirror, pose, focus, sensor, codec, light.

Images are (H, W, 3) uint8 RGB, labels (H, W) uint8 in the `datasets` scheme. Every random choice comes from
the `numpy.random.Generator` passed in, so one seed gives one result.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from recognition.training.datasets import (
    IGNORE,
    INNER_MOUTH,
    LEFT_EYE,
    LOWER_LIP,
    MOUTH,
    NOSE,
    NOT_A_PART,
    RIGHT_EYE,
    UPPER_LIP,
    flip_horizontal,
)

__all__ = [
    "Augmentation",
    "adjust_lighting",
    "augment",
    "blur",
    "grayscale",
    "jpeg_reencode",
    "occlude",
    "rotate_scale",
    "sensor_noise",
]


@dataclass(frozen=True)
class Augmentation:
    """Probabilities and ranges of each step of `augment`."""

    flip: float = 0.5
    max_rotation_deg: float = 20.0  # doors see tilted heads, rarely beyond this
    scale_range: tuple[float, float] = (0.85, 1.15)  # detector boxes vary about this much around a face
    blur: float = 0.3
    max_blur_sigma: float = 1.5
    noise: float = 0.3
    max_noise_std: float = 8.0
    jpeg: float = 0.3
    jpeg_quality: tuple[int, int] = (30, 90)
    lighting: float = 0.8
    grayscale: float = 0.15  # door cameras switch to monochrome infrared at night
    occlusion: float = 0.25  # sunglasses, a face mask, a hand: the parser must not draw the parts they hide


def rotate_scale(
    image: np.ndarray, label: np.ndarray, degrees: float, scale: float
) -> tuple[np.ndarray, np.ndarray]:
    """Rotate (counter-clockwise) and scale about the centre; pixels from outside the source are IGNORE."""
    height, width = label.shape
    matrix = cv2.getRotationMatrix2D(((width - 1) / 2, (height - 1) / 2), degrees, scale)
    image = cv2.warpAffine(
        image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101
    )
    label = cv2.warpAffine(
        label,
        matrix,
        (width, height),
        flags=cv2.INTER_NEAREST,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=IGNORE,
    )
    return image, label


# What an occluder hides: the label classes it is drawn over, and how far past their bounding box it
# reaches (fractions of the box's width and height, each side).
OCCLUDERS = {
    "sunglasses": ((LEFT_EYE, RIGHT_EYE), 0.25, 0.9),
    "eye patch": ((LEFT_EYE,), 0.6, 0.9),
    "face mask": ((NOSE, UPPER_LIP, INNER_MOUTH, LOWER_LIP, MOUTH), 0.35, 0.3),
    "hand over the mouth": ((UPPER_LIP, INNER_MOUTH, LOWER_LIP, MOUTH), 0.5, 0.6),
}


def occlude(image: np.ndarray, label: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One of OCCLUDERS drawn over the parts it hides, as a dark or coloured, rectangular or round patch;
    every pixel it covers becomes NOT_A_PART. The pair is returned as it was when those parts are absent."""
    covers, reach_x, reach_y = list(OCCLUDERS.values())[rng.integers(len(OCCLUDERS))]
    if covers == (LEFT_EYE,) and rng.random() < 0.5:
        covers = (RIGHT_EYE,)
    rows, columns = np.nonzero(np.isin(label, covers))
    if len(rows) < 4:
        return image, label
    top, bottom, left, right = rows.min(), rows.max(), columns.min(), columns.max()
    grow_x, grow_y = reach_x * (right - left + 1), reach_y * (bottom - top + 1)
    corners = np.round([left - grow_x, top - grow_y, right + grow_x, bottom + grow_y]).astype(int)
    covered = np.zeros(label.shape, np.uint8)
    if rng.random() < 0.5:
        cv2.rectangle(covered, tuple(corners[:2]), tuple(corners[2:]), 1, thickness=-1)
    else:
        centre = tuple(int(value) for value in (corners[:2] + corners[2:]) // 2)
        # circumscribed: the round patch hides the corners of the parts' box too
        axes = tuple(int(value) for value in np.ceil((corners[2:] - corners[:2]) / np.sqrt(2)))
        cv2.ellipse(covered, centre, axes, 0.0, 0.0, 360.0, 1, thickness=-1)
    covered = covered.astype(bool)
    colour = rng.integers(0, 60, 3) if rng.random() < 0.7 else rng.integers(0, 256, 3)
    texture = rng.normal(0.0, rng.uniform(0.0, 12.0), (*label.shape, 3))
    image, label = image.copy(), label.copy()
    image[covered] = np.clip(colour + texture[covered], 0, 255).astype(np.uint8)
    label[covered] = NOT_A_PART
    return image, label


def grayscale(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)


def blur(image: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(image, (0, 0), sigmaX=sigma)


def sensor_noise(image: np.ndarray, std: float, rng: np.random.Generator) -> np.ndarray:
    return np.clip(image + rng.normal(0.0, std, image.shape), 0, 255).astype(np.uint8)


def jpeg_reencode(image: np.ndarray, quality: int) -> np.ndarray:
    ok, encoded = cv2.imencode(".jpg", image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return np.ascontiguousarray(cv2.imdecode(encoded, cv2.IMREAD_COLOR)[..., ::-1])


def adjust_lighting(image: np.ndarray, brightness: float, contrast: float, gamma: float) -> np.ndarray:
    """out = 255 * ((contrast * (x - mean) + mean + brightness) / 255) ** gamma, clipped."""
    pixels = image.astype(np.float32)
    mean = pixels.mean()
    pixels = np.clip(contrast * (pixels - mean) + mean + brightness, 0, 255)
    return (255.0 * (pixels / 255.0) ** gamma + 0.5).astype(np.uint8)


def augment(
    image: np.ndarray, label: np.ndarray, rng: np.random.Generator, config: Augmentation = Augmentation()
) -> tuple[np.ndarray, np.ndarray]:
    """One random variant of the pair; geometry moves image and label together, the rest touches the image."""
    if rng.random() < config.flip:
        image, label = flip_horizontal(image, label)
    degrees = rng.uniform(-config.max_rotation_deg, config.max_rotation_deg)
    image, label = rotate_scale(image, label, degrees, rng.uniform(*config.scale_range))
    if rng.random() < config.occlusion:
        image, label = occlude(image, label, rng)
    if rng.random() < config.lighting:
        image = adjust_lighting(
            image,
            brightness=rng.uniform(-30, 30),
            contrast=rng.uniform(0.7, 1.3),
            gamma=np.exp(rng.uniform(-0.4, 0.4)),
        )
    if rng.random() < config.grayscale:
        image = grayscale(image)
    if rng.random() < config.blur:
        image = blur(image, rng.uniform(0.3, config.max_blur_sigma))
    if rng.random() < config.noise:
        image = sensor_noise(image, rng.uniform(1.0, config.max_noise_std), rng)
    if rng.random() < config.jpeg:
        image = jpeg_reencode(image, rng.integers(config.jpeg_quality[0], config.jpeg_quality[1] + 1))
    return image, label
