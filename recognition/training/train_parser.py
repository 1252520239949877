"""Train the face parser: `python -m recognition.training.train_parser --data DIR --out CKPT [...]`.

Sources are mixed into one pool: FASSEG's human labels (`--fasseg`, default DIR/parsing, repeated
`--fasseg-repeat` times), landmark-guided pseudo-labels (`--pseudo`, made by
`pseudo_labels.make_pseudo_labels` from photos under DIR) and, when held, LaPa and CelebAMask-HQ. Each face
is cropped as the pipeline crops it, from the box of the pipeline's own detector (found once, cached beside
the checkpoint), then augmented.

Every step's batch and augmentation derive from (seed, step) alone, and the checkpoint holds model, optimizer,
scheduler, step and torch RNG state, so `--resume` continues exactly where a stopped run was. The finished run
also writes the fp16 state dict that is committed as the parser's weights.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from recognition.images import read_rgb
from recognition.models.parser import CROP_MARGIN, CROP_SIZE, DEFAULT_PARSER, create_parser
from recognition.training.augment import augment
from recognition.training.datasets import (
    IMAGE_SUFFIXES,
    CelebAMaskHQDataset,
    FassegDataset,
    LapaDataset,
    face_crop,
    read_label,
)
from recognition.training.files import save_atomically
from recognition.training.losses import PartialLabelLoss
from recognition.training.pseudo_labels import read_boxes

__all__ = ["PseudoLabelDataset", "main", "train"]

logger = logging.getLogger(__name__)


class PseudoLabelDataset:
    """`pseudo/PATH.png` labels paired with their photos `data/PATH.<jpg|png|...>`, and the detector box each
    was drawn in (`boxes`, by index)."""

    def __init__(self, pseudo: Path, data: Path) -> None:
        if not pseudo.is_dir():
            raise FileNotFoundError(f"no pseudo-label folder {pseudo}")
        drawn_in = read_boxes(pseudo)
        self.pairs, self.boxes = [], {}
        for label in sorted(pseudo.rglob("*.png")):
            if label.relative_to(pseudo).as_posix() in drawn_in:
                self.boxes[len(self.pairs)] = drawn_in[label.relative_to(pseudo).as_posix()]
            stem = data / label.relative_to(pseudo).with_suffix("")
            photos = [
                stem.with_suffix(suffix) for suffix in IMAGE_SUFFIXES if stem.with_suffix(suffix).is_file()
            ]
            if not photos:
                raise FileNotFoundError(f"{label} has no photo {stem}.* under {data}")
            self.pairs.append((photos[0], label))

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        photo, label = self.pairs[index]
        return read_rgb(photo), read_label(label)


def _sources(args: argparse.Namespace) -> list:
    """The datasets to mix, each with `pairs` (image path first) and `[index] -> (image, label)`."""
    sources = [FassegDataset(args.fasseg or args.data / "parsing", "train")] * args.fasseg_repeat
    if args.pseudo:
        sources.append(PseudoLabelDataset(args.pseudo, args.data))
    if args.lapa:
        sources.append(LapaDataset(args.lapa, "train"))
    if args.celebamask:
        sources.append(CelebAMaskHQDataset(args.celebamask))
    return sources


def _detector_boxes(sources: list, cache: Path) -> dict[str, list[float]]:
    """The largest detected face's box per image path: the box a source was labelled in (`boxes`, by index),
    else from `cache` or the pipeline's detector; images without a face are absent."""
    boxes = json.loads(cache.read_text()) if cache.is_file() else {}
    missing = {}
    for dataset in sources:
        known = getattr(dataset, "boxes", {})
        for index in range(len(dataset)):
            key = str(dataset.pairs[index][0])
            if index in known:
                boxes[key] = known[index]
            elif key not in boxes:
                missing[key] = (dataset, index)
    if missing:
        from recognition.models.detector import FaceDetector

        detector = FaceDetector()
        for key, (dataset, index) in tqdm(missing.items(), desc="detector boxes", unit="image"):
            faces = detector.detect(dataset[index][0])
            boxes[key] = list(max(faces, key=lambda face: face.width * face.height).box) if faces else None
        save_atomically(cache, lambda file: file.write(json.dumps(boxes).encode()))
    return {key: box for key, box in boxes.items() if box is not None}


class _Batches(torch.utils.data.Dataset):
    """Step -> that step's augmented batch: a function of (seed, step) alone, so that a resumed run draws the
    same batches, whichever worker process makes them."""

    def __init__(self, samples: list, batch_size: int, seed: int, crop_size: int):
        self.samples, self.batch_size, self.seed, self.crop_size = samples, batch_size, seed, crop_size

    def __getitem__(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        return _batch(self.samples, step, self.batch_size, self.seed, self.crop_size)


def _batch(
    samples: list[tuple[object, int, list[float]]], step: int, batch_size: int, seed: int, crop_size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    steps_per_epoch = len(samples) // batch_size
    epoch, position = divmod(step, steps_per_epoch)
    order = np.random.default_rng([seed, epoch]).permutation(len(samples))
    rng = np.random.default_rng([seed, epoch, step])
    images, labels = [], []
    for sample in order[position * batch_size : (position + 1) * batch_size]:
        dataset, index, box = samples[sample]
        image, label = dataset[index]
        crop, label_crop = face_crop(image, label, tuple(box), crop_size, CROP_MARGIN)
        crop, label_crop = augment(crop, label_crop, rng)
        images.append(crop)
        labels.append(label_crop)
    pixels = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float()
    return pixels, torch.from_numpy(np.stack(labels)).long()


def _save_checkpoint(path: Path, model, optimizer, scheduler, step: int, run: dict) -> None:
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "step": step,
        **run,
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }
    save_atomically(path, lambda file: torch.save(state, file))


def _run_identity(args: argparse.Namespace, total_steps: int) -> dict:
    """What a resumed run must share with the stopped one; saved in every checkpoint."""
    return {
        "total_steps": total_steps,
        "seed": args.seed,
        "architecture": args.model,
        "crop_size": args.crop_size,
        "init": str(args.init) if args.init else None,
    }


def train(args: argparse.Namespace) -> float:
    """Run (or continue) training; returns the last step's loss."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    sources = _sources(args)
    boxes = _detector_boxes(sources, args.out.with_suffix(".boxes.json"))
    samples = [
        (dataset, index, boxes[str(dataset.pairs[index][0])])
        for dataset in sources
        for index in range(len(dataset))
        if str(dataset.pairs[index][0]) in boxes
    ]
    if len(samples) < args.batch_size:
        raise SystemExit(
            f"only {len(samples)} images with a detected face, fewer than a batch of {args.batch_size}"
        )
    total = args.steps or args.epochs * (len(samples) // args.batch_size)
    run = _run_identity(args, total)

    torch.manual_seed(args.seed)
    model = create_parser(args.model).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr, total_steps=total)
    if args.init:
        state = torch.load(args.init, map_location=device, weights_only=True)
        model.load_state_dict(state.get("model", state), strict=True)
    step = 0
    if args.resume:
        if not args.out.is_file():
            raise SystemExit(f"nothing to resume: no checkpoint at {args.out}")
        state = torch.load(args.out, map_location=device, weights_only=True)
        made_for = {key: state.get(key) for key in run}
        if made_for != run:
            raise SystemExit(
                f"{args.out} was made for {made_for}, not {run}: resume with the same data and arguments"
            )
        model.load_state_dict(state["model"], strict=True)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step = state["step"]
        torch.set_rng_state(state["torch_rng"].cpu())
        if state["cuda_rng"]:
            torch.cuda.set_rng_state_all([rng.cpu() for rng in state["cuda_rng"]])
    criterion = PartialLabelLoss(dice_weight=args.dice_weight)
    stop = min(args.stop_at or total, total)
    loss_value = float("nan")
    model.train()
    batches = torch.utils.data.DataLoader(
        _Batches(samples, args.batch_size, args.seed, args.crop_size),
        batch_size=None,
        sampler=range(step, stop),
        num_workers=args.workers,
        pin_memory=device.type == "cuda",
    )
    with tqdm(total=total, initial=step, desc="train parser", unit="step") as progress:
        for pixels, labels in batches:
            pixels, labels = pixels.to(device, non_blocking=True), labels.to(device, non_blocking=True)
            loss = criterion(model(pixels), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            step += 1
            loss_value = loss.item()
            progress.update()
            progress.set_postfix(loss=f"{loss_value:.4f}")
            if step % args.checkpoint_every == 0 or step == stop:
                _save_checkpoint(args.out, model, optimizer, scheduler, step, run)
    if step == total:
        export = args.export or args.out.with_name(f"{args.out.stem}-fp16.pt")
        weights = {
            key: value.half() if value.is_floating_point() else value
            for key, value in model.state_dict().items()
        }
        save_atomically(export, lambda file: torch.save({k: v.cpu() for k, v in weights.items()}, file))
        logger.info("wrote %s", export)
    return loss_value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m recognition.training.train_parser", description=__doc__)
    parser.add_argument("--data", type=Path, required=True, help="face data root (shared/facedata)")
    parser.add_argument("--fasseg", type=Path, help="FASSEG parsing folder (default DATA/parsing)")
    parser.add_argument("--fasseg-repeat", type=int, default=1, help="times FASSEG enters the mix")
    parser.add_argument("--pseudo", type=Path, help="pseudo-label folder made from photos under DATA")
    parser.add_argument("--lapa", type=Path, help="LaPa root (train/images, train/labels)")
    parser.add_argument("--celebamask", type=Path, help="CelebAMask-HQ root")
    parser.add_argument("--out", type=Path, required=True, help="checkpoint path")
    parser.add_argument("--export", type=Path, help="fp16 weights written at the end (default OUT-fp16.pt)")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--steps", type=int, help="total steps, instead of --epochs")
    parser.add_argument(
        "--stop-at", type=int, help="stop (with a checkpoint) at this step, to --resume later"
    )
    parser.add_argument("--resume", action="store_true", help="continue from the checkpoint at --out")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--dice-weight", type=float, default=0.5)
    parser.add_argument("--checkpoint-every", type=int, default=200)
    parser.add_argument("--model", default=DEFAULT_PARSER, help="parser architecture")
    parser.add_argument("--init", type=Path, help="fine-tune from these weights (checkpoint or export)")
    parser.add_argument("--crop-size", type=int, default=CROP_SIZE, help="face crop side in pixels")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=0, help="processes making batches (0: this one)")
    return parser


def main(argv: Sequence[str] | None = None) -> float:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return train(_parser().parse_args(argv))


if __name__ == "__main__":
    main()
