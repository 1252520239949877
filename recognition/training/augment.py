"""Augmentations of (image, label) parsing pairs for door cameras: mirror, pose, focus, sensor, codec, light.

Images are (H, W, 3) uint8 RGB, labels (H, W) uint8 in the `datasets` scheme. Every random choice comes from
the `numpy.random.Generator` passed in, so one seed gives one result.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from recognition.training.datasets import IGNORE, flip_horizontal

__all__ = [
    "Augmentation",
    "adjust_lighting",
    "augment",
    "blur",
    "jpeg_reencode",
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
    if rng.random() < config.lighting:
        image = adjust_lighting(
            image,
            brightness=rng.uniform(-30, 30),
            contrast=rng.uniform(0.7, 1.3),
            gamma=np.exp(rng.uniform(-0.4, 0.4)),
        )
    if rng.random() < config.blur:
        image = blur(image, rng.uniform(0.3, config.max_blur_sigma))
    if rng.random() < config.noise:
        image = sensor_noise(image, rng.uniform(1.0, config.max_noise_std), rng)
    if rng.random() < config.jpeg:
        image = jpeg_reencode(image, rng.integers(config.jpeg_quality[0], config.jpeg_quality[1] + 1))
    return image, label
