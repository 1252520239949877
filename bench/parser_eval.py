"""Face parser accuracy and speed on FASSEG's test split, against its human labels.

    nice -n 10 .venv/bin/python -m bench.parser_eval --weights recognition/models/weights/parser.pt
    nice -n 10 .venv/bin/python -m bench.parser_eval --weights /tmp/run/ckpt.pt --facedata DIR

`--weights` takes the trainer's checkpoint (a dict with "model") or its fp16 export (a bare state dict).
Each test image is cropped from the largest box of the pipeline's detector, as in production, parsed, and its
labels mapped back to image coordinates; an image without a detected face counts as all background.

F1 is pooled over the split (pixel counts summed over images, then F1 per class). Brows and eyes count a
pixel as right only when its side agrees too (image-left = 2/4). FASSEG does not split the lips from the inner
mouth, so predicted upper lip, inner mouth and lower lip are merged into its mouth label. Brows are scored
only on images whose label has brow pixels, since FASSEG's brows are recovered heuristically and often absent.
Parse time is the parser alone (crop, network, argmax), per face, median over the split.
"""

import argparse
import os
import pickle
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from recognition.models.detector import FaceDetector
from recognition.models.parser import FaceParser
from recognition.training.datasets import (
    BACKGROUND,
    HAIR,
    IGNORE,
    LEFT_BROW,
    LEFT_EYE,
    MOUTH,
    MOUTH_LUT,
    NOSE,
    RIGHT_BROW,
    RIGHT_EYE,
    SKIN,
    FassegDataset,
)

FACEDATA = Path(
    os.environ.get("FACEGATE_FACEDATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "facedata")
)

SCORED = {
    "skin": (SKIN,),
    "brows": (LEFT_BROW, RIGHT_BROW),
    "eyes": (LEFT_EYE, RIGHT_EYE),
    "nose": (NOSE,),
    "mouth": (MOUTH,),
    "hair": (HAIR,),
}
TARGET_MEAN_F1, TARGET_CLASS_F1 = 0.90, 0.75


def load_parser(weights: Path, name: str) -> FaceParser:
    """A `FaceParser` on the checkpoint's model state or on the fp16 export, whichever `weights` holds."""
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, pickle.UnpicklingError) as error:
        raise SystemExit(f"{weights} is not a parser checkpoint or export: {error}") from None
    if not isinstance(state, dict):
        raise SystemExit(f"{weights} is not a parser checkpoint or export: it holds a {type(state).__name__}")
    if "model" not in state:
        return FaceParser(weights, name)
    with tempfile.TemporaryDirectory() as folder:
        exported = Path(folder) / "parser.pt"
        torch.save(state["model"], exported)
        return FaceParser(exported, name)


def evaluate(parser: FaceParser, detector: FaceDetector, dataset: FassegDataset) -> dict:
    """Pooled per-class pixel counts (true positive, predicted, labelled), parse times and missed faces."""
    counts = {name: np.zeros(3, dtype=np.int64) for name in SCORED}
    seconds, missed = [], 0
    for image, truth in dataset:
        faces = detector.detect(image)
        if faces:
            face = max(faces, key=lambda found: found.width * found.height)
            start = time.perf_counter()
            parsing = parser.get(image, face)
            seconds.append(time.perf_counter() - start)
            predicted = MOUTH_LUT[parsing.to_image(image.shape)]
        else:
            missed += 1
            predicted = np.full(truth.shape, BACKGROUND, dtype=np.uint8)
        labelled = truth != IGNORE
        for name, classes in SCORED.items():
            if name == "brows" and not np.isin(truth, classes).any():
                continue
            for label in classes:
                is_predicted, is_true = (predicted == label) & labelled, truth == label
                counts[name] += (np.count_nonzero(is_predicted & is_true), is_predicted.sum(), is_true.sum())
    return {"counts": counts, "seconds": seconds, "missed": missed, "images": len(dataset)}


def f1_scores(counts: dict[str, np.ndarray]) -> dict[str, float]:
    return {
        name: 2 * true_positive / (predicted + labelled) if predicted + labelled else float("nan")
        for name, (true_positive, predicted, labelled) in counts.items()
    }


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    arguments.add_argument("--weights", type=Path, required=True, help="trainer checkpoint or fp16 export")
    arguments.add_argument("--facedata", type=Path, default=FACEDATA, help="shared face data root")
    arguments.add_argument("--model", default="parser_small", help="parser architecture of the weights")
    options = arguments.parse_args()

    dataset = FassegDataset(options.facedata / "parsing", "test")
    parser = load_parser(options.weights, options.model)
    result = evaluate(parser, FaceDetector(), dataset)
    scores = f1_scores(result["counts"])
    mean = float(np.mean(list(scores.values())))

    print(f"FASSEG test: {result['images']} images, {result['missed']} without a detected face")
    print(f"{'class':<8}{'F1':>7}{'predicted px':>14}{'labelled px':>13}")
    for name, score in scores.items():
        _, predicted, labelled = result["counts"][name]
        flag = "" if score >= TARGET_CLASS_F1 else f"  (< {TARGET_CLASS_F1})"
        print(f"{name:<8}{score:>7.3f}{predicted:>14}{labelled:>13}{flag}")
    print(f"{'mean':<8}{mean:>7.3f}  (target >= {TARGET_MEAN_F1}, no class below {TARGET_CLASS_F1})")
    if result["seconds"]:
        median_ms = 1000 * statistics.median(result["seconds"])
        print(f"parse time: {median_ms:.2f} ms per face (median of {len(result['seconds'])}), "
              f"{torch.get_num_threads()} torch threads")  # fmt: skip


if __name__ == "__main__":
    main()
