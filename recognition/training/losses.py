"""Partial-label, ignore-aware losses for face parsing.

Targets hold the 11 class indices, IGNORE (255) for pixels nobody judged, and MOUTH (11), FASSEG's mouth
superclass, which supervises the summed probability of upper lip, inner mouth and lower lip.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from recognition.training.datasets import IGNORE, INNER_MOUTH, LOWER_LIP, MOUTH, UPPER_LIP

__all__ = ["PartialLabelLoss", "partial_cross_entropy", "partial_dice"]

MOUTH_PARTS = (UPPER_LIP, INNER_MOUTH, LOWER_LIP)


def _with_mouth(per_class: torch.Tensor, combine) -> torch.Tensor:
    """(N, 11, H, W) -> (N, 12, H, W): channel 11 combines the mouth parts, so target 11 indexes it."""
    return torch.cat([per_class, combine(per_class[:, list(MOUTH_PARTS)])], dim=1)


def partial_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean over judged pixels of -log p(target), where p(MOUTH) = p7 + p8 + p9; 0 when none is judged."""
    log_p = _with_mouth(
        F.log_softmax(logits, dim=1), lambda parts: torch.logsumexp(parts, dim=1, keepdim=True)
    )
    judged = target != IGNORE
    if not judged.any():
        return logits.sum() * 0.0
    return F.nll_loss(log_p, target.long(), ignore_index=IGNORE)


def partial_dice(logits: torch.Tensor, target: torch.Tensor, smooth: float = 1.0) -> torch.Tensor:
    """1 - mean soft Dice over the classes present in `target`, MOUTH included as p7 + p8 + p9.

    Pixels labelled MOUTH count for the superclass only: they say nothing about which mouth part they are.
    """
    p = _with_mouth(F.softmax(logits, dim=1), lambda parts: parts.sum(dim=1, keepdim=True))
    target = target.long()
    classes = torch.arange(p.shape[1], device=target.device)[None, :, None, None]
    positive = (target[:, None] == classes).float()
    # The superclass is positive on any mouth pixel; the parts do not judge superclass-only pixels.
    positive[:, MOUTH] = torch.isin(target, torch.tensor([*MOUTH_PARTS, MOUTH], device=target.device)).float()
    weight = (target != IGNORE)[:, None].float().expand_as(p).clone()
    weight[:, list(MOUTH_PARTS)] *= (target != MOUTH)[:, None].float()
    dims = (0, 2, 3)
    intersection = (p * positive * weight).sum(dims)
    total = (p * weight).sum(dims) + (positive * weight).sum(dims)
    present = (positive * weight).sum(dims) > 0
    if not present.any():
        return logits.sum() * 0.0
    dice = (2 * intersection + smooth) / (total + smooth)
    return 1 - dice[present].mean()


class PartialLabelLoss(nn.Module):
    """partial_cross_entropy + dice_weight * partial_dice."""

    def __init__(self, dice_weight: float = 0.0):
        super().__init__()
        self.dice_weight = dice_weight

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        loss = partial_cross_entropy(logits, target)
        if self.dice_weight:
            loss = loss + self.dice_weight * partial_dice(logits, target)
        return loss
