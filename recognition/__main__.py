"""Command line, the way face_recognition users script it: one JSON line per image on stdout.

    python -m recognition detect IMAGE...   {"path": ..., "faces": [{"box": [x1, y1, x2, y2], "score": ...}]}
    python -m recognition encode IMAGE...   the same, each face with its 128-d "code"
    python -m recognition parse IMAGE... --out DIR
                                            the same, each face with its keypoints (x, y, confidence) and
                                            occlusion verdicts; per face, DIR gets NAME.faceK.png, the
                                            parser's labels in the image's own pixels (0 background,
                                            1 skin, 2/3 image-left/right brow, 4/5 image-left/right eye,
                                            6 nose, 7 upper lip, 8 inner mouth, 9 lower lip, 10 hair),
                                            and NAME.faceK.json, the face's line record
    python -m recognition check-config      validate the FACEGATE_* settings and load and run every model

An image that cannot be read is named on stderr with the reason and skipped; the others are still processed,
and the exit status is 1 when any image failed (2 for a usage error, as argparse does).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from recognition.config import ConfigError, EngineConfig
from recognition.images import UnreadableImage, read_rgb
from recognition.keypoints import ParsingKeypoints
from recognition.models.facecode import CHIP_SIZE
from recognition.pipeline import Engine
from recognition.types import Face


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else round(float(value), 3)


def face_record(face: Face, with_code: bool) -> dict:
    record = {"box": [_number(v) for v in face.box], "score": round(float(face.score), 6)}
    if with_code:
        record["code"] = [float(v) for v in face.code]
    return record


def parsed_record(face: Face) -> dict:
    """Box, score, keypoints with their confidence, and the visibility verdicts of a parsed face."""
    visibility = face.visibility
    return face_record(face, with_code=False) | {
        "keypoints": {
            name: {"x": round(x, 2), "y": round(y, 2), "confidence": visibility.confidence.get(name, 0.0)}
            for name, (x, y) in face.keypoints.items()
        },
        "visible": visibility.parts,
        "occluded": visibility.occluded,
        "occlusions": list(visibility.occlusions),
    }


def _output_names(paths: Sequence[str]) -> list[str]:
    """A file name stem per input: its own stem, prefixed by its folder's name and then, if two inputs would
    still share it, by its position among the inputs."""
    stems = [f"{Path(path).parent.name}_{Path(path).stem}".lstrip("_") for path in paths]
    return [stem if stems.count(stem) == 1 else f"{at}_{stem}" for at, stem in enumerate(stems)]


def write_parsings(out: Path, stem: str, image: np.ndarray, faces: Sequence[Face]) -> list[dict]:
    """Per face: its labels in image pixels as NAME.faceK.png and its record as NAME.faceK.json."""
    records = []
    for number, face in enumerate(faces):
        labels_path = out / f"{stem}.face{number}.png"
        Image.fromarray(face.parsing.to_image(image.shape)).save(labels_path)
        record = parsed_record(face) | {"labels": str(labels_path)}
        (out / f"{stem}.face{number}.json").write_text(json.dumps(record, indent=1) + "\n")
        records.append(record)
    return records


def run_images(
    engine: Engine,
    paths: Sequence[str],
    min_face_size: int | None,
    upsample: int,
    with_code: bool,
    parse_to: Path | None = None,
) -> int:
    failed = 0
    stems = _output_names(paths)
    for path, stem in zip(paths, stems, strict=True):
        try:
            image = read_rgb(Path(path))
        except UnreadableImage as error:
            print(f"{path}: {error}", file=sys.stderr)
            failed += 1
            continue
        try:
            if with_code or parse_to:
                faces = engine.analyse(image, min_face_size, upsample)
            else:
                (faces,) = engine.detect_batch([image], min_face_size, upsample)
        except (RuntimeError, ValueError) as error:  # one image the models cannot take must not stop the rest
            print(f"{path}: could not be analysed ({error})", file=sys.stderr)
            failed += 1
            continue
        if parse_to:
            records = write_parsings(parse_to, stem, image, faces)
        else:
            records = [face_record(face, with_code) for face in faces]
        print(json.dumps({"path": path, "faces": records}), flush=True)
    if failed:
        print(f"{failed} of {len(paths)} images failed", file=sys.stderr)
    return 1 if failed else 0


def check_config(config: EngineConfig) -> int:
    print("\n".join(config.describe()))
    try:
        engine = Engine(config)
        # A first forward pass is where a wrong device or a broken install shows up.
        engine.detect_batch([np.zeros((CHIP_SIZE, CHIP_SIZE, 3), np.uint8)])
        engine.coder.get_batch(np.zeros((1, CHIP_SIZE, CHIP_SIZE, 3), np.uint8))
    except (OSError, RuntimeError, ValueError, KeyError) as error:
        print(f"check-config: the models do not load or run: {error}", file=sys.stderr)
        return 1
    print(f"check-config: settings valid; the detector, keypoint and face-code models run on {engine.device}")
    return 0


def _count(minimum: int):
    def parse(text: str) -> int:
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {minimum} or more, got {value}")
        return value

    parse.__name__ = "whole number"  # what argparse calls the type when the text is not one
    return parse


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m recognition", description=__doc__.split("\n")[0])
    commands = root.add_subparsers(dest="command", required=True)
    for name, help in (
        ("detect", "the faces in each image"),
        ("encode", "the faces and their codes"),
        ("parse", "the faces' label maps, keypoints and occlusion verdicts, written to --out"),
    ):
        command = commands.add_parser(name, help=help)
        command.add_argument("images", nargs="+", metavar="IMAGE")
        if name == "parse":
            command.add_argument(
                "--out", type=Path, required=True, metavar="DIR", help="folder for the PNG and JSON files"
            )
        command.add_argument(
            "--min-face-size",
            type=_count(1),
            metavar="PX",
            help="ignore faces narrower than PX pixels, and skip looking for them (default "
            "FACEGATE_MIN_FACE_SIZE)",
        )
        command.add_argument(
            "--upsample",
            type=_count(0),
            default=0,
            metavar="N",
            help="look at each image doubled N times first, for faces under 80 px (default 0)",
        )
        command.add_argument("--device", choices=("auto", "cpu", "cuda"), help="default FACEGATE_DEVICE")
    commands.add_parser("check-config", help="validate FACEGATE_* settings and that every model loads")
    return root


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = parser().parse_args(argv)
    try:
        config = EngineConfig.from_env()
    except ConfigError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        return 1
    if args.command == "check-config":
        return check_config(config)
    overrides = {"device": args.device, "min_face_size": args.min_face_size}
    config = dataclasses.replace(config, **{key: value for key, value in overrides.items() if value})
    parse_to = args.out if args.command == "parse" else None
    if parse_to:
        try:
            parse_to.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            print(f"cannot write to {parse_to}: {error}", file=sys.stderr)
            return 1
    try:
        # parse reports the parser's segments, whatever keypoint model the engine would default to
        engine = Engine(config, keypoints=ParsingKeypoints()) if parse_to else Engine(config)
    except (OSError, RuntimeError, ValueError) as error:
        print(f"the engine cannot start: {error}", file=sys.stderr)
        return 1
    return run_images(
        engine, args.images, config.min_face_size, args.upsample, args.command == "encode", parse_to
    )


if __name__ == "__main__":
    sys.exit(main())
