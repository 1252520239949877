"""Partial-label, ignore-aware losses for face parsing.

Targets hold the 11 class indices, IGNORE (255) for pixels nobody judged, and two superclasses, each
supervising the summed probability of its parts: MOUTH (11, FASSEG's lips and inner mouth) and NOT_A_PART
(12, the pseudo-labels' background, skin or hair).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from recognition.training.datasets import (
    BACKGROUND,
    HAIR,
    IGNORE,
    INNER_MOUTH,
    LOWER_LIP,
    MOUTH,
    NOT_A_PART,
    SKIN,
    UPPER_LIP,
)

__all__ = ["PartialLabelLoss", "partial_cross_entropy", "partial_dice"]

SUPERCLASSES = {MOUTH: (UPPER_LIP, INNER_MOUTH, LOWER_LIP), NOT_A_PART: (BACKGROUND, SKIN, HAIR)}


def _with_superclasses(per_class: torch.Tensor, combine) -> torch.Tensor:
    """(N, 11, H, W) -> (N, 13, H, W): channel 11 combines the mouth parts and 12 the non-parts, so that a
    superclass target indexes its own channel."""
    return torch.cat([per_class, *(combine(per_class[:, list(parts)]) for parts in SUPERCLASSES.values())], 1)


def partial_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean over judged pixels of -log p(target), a superclass's p the sum of its parts'; 0 when none is
    judged."""
    log_p = _with_superclasses(
        F.log_softmax(logits, dim=1), lambda parts: torch.logsumexp(parts, dim=1, keepdim=True)
    )
    judged = target != IGNORE
    if not judged.any():
        return logits.sum() * 0.0
    return F.nll_loss(log_p, target.long(), ignore_index=IGNORE)


def partial_dice(logits: torch.Tensor, target: torch.Tensor, smooth: float = 1.0) -> torch.Tensor:
    """1 - mean soft Dice over the classes present in `target`, each superclass as the sum of its parts.

    Pixels labelled with a superclass count for the superclass only: they say nothing about which of its
    parts they are.
    """
    p = _with_superclasses(F.softmax(logits, dim=1), lambda parts: parts.sum(dim=1, keepdim=True))
    target = target.long()
    classes = torch.arange(p.shape[1], device=target.device)[None, :, None, None]
    positive = (target[:, None] == classes).float()
    weight = (target != IGNORE)[:, None].float().expand_as(p).clone()
    for superclass, parts in SUPERCLASSES.items():
        # the superclass is positive on any pixel of its parts; the parts do not judge superclass-only pixels
        members = torch.tensor([*parts, superclass], device=target.device)
        positive[:, superclass] = torch.isin(target, members).float()
        weight[:, list(parts)] *= (target != superclass)[:, None].float()
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
