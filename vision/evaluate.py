"""Score detectors on an annotated dataset, ours and FarmBot's side by side.

Metrics follow shared/datasets/SCORING.md. Our colour model must never see the photo it
is scored on: the photos are cut into contiguous blocks (neighbouring frames look alike,
so random folds would flatter it) and each block is scored by a model trained on the rest.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel

from vision import VisionError
from vision.colour_model import NO_COUNTS, ColourCounts, colour_counts, model_from_counts
from vision.datasets import Dataset, Sample
from vision.farmbot import farmbot_mask
from vision.vegetation import Mask, vegetation_mask

DETECTORS = ("ours", "ours_index", "farmbot")
"""ours: the learned colour model; ours_index: the untrained index + Otsu fallback;
farmbot: FarmBot's pipeline with the app's defaults."""


class ImageScore(BaseModel):
    name: str
    vegetation_iou: dict[str, float]


class Report(BaseModel):
    dataset: str
    layout: str
    scale: float
    folds: int
    images: list[ImageScore]
    mean_vegetation_iou: dict[str, float]


@dataclass(frozen=True)
class _Fold:
    scored: list[Sample]
    training: ColourCounts


def iou(predicted: Mask, truth: Mask) -> float:
    """Intersection over union; two empty masks agree perfectly."""
    union = int(np.count_nonzero(predicted | truth))
    return 1.0 if union == 0 else int(np.count_nonzero(predicted & truth)) / union


def blocks(samples: list[Sample], folds: int) -> list[_Fold]:
    """`folds` contiguous blocks of samples, each with everything else's colour counts.

    Each photo is counted once; a fold's training set is the total minus its own block.
    """
    if folds < 2 or folds > len(samples):
        raise VisionError(f"folds must be between 2 and the {len(samples)} photos, got {folds}")
    counts = [colour_counts(sample.photo, sample.vegetation) for sample in samples]
    everything = sum(counts, NO_COUNTS)
    edges = np.linspace(0, len(samples), folds + 1).round().astype(int)
    return [
        _Fold(samples[low:high], _without(everything, sum(counts[low:high], NO_COUNTS)))
        for low, high in itertools.pairwise(edges.tolist())
    ]


def _without(total: ColourCounts, part: ColourCounts) -> ColourCounts:
    return ColourCounts(total.plant - part.plant, total.soil - part.soil)


def evaluate(dataset: Dataset, scale: float = 0.5, folds: int = 4) -> Report:
    """Every detector on every photo of `dataset`, at `scale` of the stored size."""
    samples = list(dataset.samples(scale))
    images = []
    for fold in blocks(samples, folds):
        model = model_from_counts(fold.training)
        for sample in fold.scored:
            masks = {
                "ours": model.mask(sample.photo),
                "ours_index": vegetation_mask(sample.photo),
                "farmbot": farmbot_mask(sample.photo) > 0,
            }
            scores = {name: round(iou(mask, sample.vegetation), 4) for name, mask in masks.items()}
            images.append(ImageScore(name=sample.name, vegetation_iou=scores))
    means = {
        name: round(float(np.mean([image.vegetation_iou[name] for image in images])), 4)
        for name in DETECTORS
    }
    return Report(
        dataset=str(dataset.root),
        layout=dataset.layout,
        scale=scale,
        folds=folds,
        images=images,
        mean_vegetation_iou=means,
    )


def report_text(report: Report) -> str:
    """The per-image table and the summary, for a terminal."""
    header = f"{'image':<14}" + "".join(f"{name:>12}" for name in DETECTORS)
    lines = [
        f"{report.layout} dataset {report.dataset} at scale {report.scale:g}, "
        f"{report.folds} block folds (ours never scores a photo it was trained on)",
        "vegetation IoU",
        header,
    ]
    for image in report.images:
        cells = "".join(f"{image.vegetation_iou[name]:12.3f}" for name in DETECTORS)
        lines.append(f"{image.name:<14}{cells}")
    means = "".join(f"{report.mean_vegetation_iou[name]:12.3f}" for name in DETECTORS)
    lines.append(f"{'mean':<14}{means}")
    return "\n".join(lines)
