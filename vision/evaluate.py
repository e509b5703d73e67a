"""Score detectors on an annotated dataset, ours and FarmBot's side by side.

Metrics follow shared/datasets/SCORING.md. Our models must never see the photo they are
scored on: the photos are cut into contiguous blocks (neighbouring frames look alike, so
random folds would flatter them) and each block is scored by models trained on the rest.

No dataset comes with the sowing map a robot would have, so one is made from the truth:
each annotated crop's centre, moved by a random sowing error of a few millimetres.
"""

from __future__ import annotations

import functools
import itertools
import operator
import zlib
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel

from vision import VisionError
from vision.classify import (
    SHAPE_FEATURES,
    Action,
    Cells,
    CropWeedModel,
    SownPoints,
    Target,
    TrainingCells,
    WeedingSettings,
    cell_features,
    training_cells,
    weeding_targets,
)
from vision.colour_model import NO_COUNTS, ColourCounts, colour_counts, model_from_counts
from vision.datasets import CROP, IGNORE, WEED, Dataset, Sample
from vision.farmbot import farmbot_crop_weed, farmbot_mask
from vision.vegetation import Mask, vegetation_mask

DETECTORS = ("ours", "ours_index", "farmbot")
"""ours: the learned colour model; ours_index: the untrained index + Otsu fallback;
farmbot: FarmBot's pipeline with the app's defaults."""
CLASSIFIERS = ("ours_sown", "ours_unsown", "farmbot_sown")
"""ours with and without the sowing map, FarmBot's positional rule (it needs the map)."""
SOWING_ERROR_MM = 3.0
"""Standard deviation of the made-up sowing map's error, per axis."""


class ClassScore(BaseModel):
    """One classifier on one photo: pixel counts behind the IoUs, and the weeding outcome."""

    crop_intersection: int
    crop_union: int
    weed_intersection: int
    weed_union: int
    weed_objects: int
    weed_targets: int
    weed_hits: int
    crop_strikes: int
    reviews: int

    @property
    def crop_iou(self) -> float:
        return _ratio(self.crop_intersection, self.crop_union)

    @property
    def weed_iou(self) -> float:
        return _ratio(self.weed_intersection, self.weed_union)


class ImageScore(BaseModel):
    name: str
    vegetation_iou: dict[str, float]
    classes: dict[str, ClassScore]


class ClassSummary(BaseModel):
    """A classifier over the whole dataset: IoUs pooled over all pixels, objects summed."""

    crop_iou: float
    weed_iou: float
    mean_iou: float
    weed_recall: float
    weed_precision: float
    crop_strikes: int
    reviews: int


class Report(BaseModel):
    dataset: str
    layout: str
    scale: float
    folds: int
    images: list[ImageScore]
    mean_vegetation_iou: dict[str, float]
    classes: dict[str, ClassSummary]


@dataclass(frozen=True)
class _Fold:
    scored: list[Sample]
    training: ColourCounts
    training_cells: TrainingCells


def iou(predicted: Mask, truth: Mask) -> float:
    """Intersection over union; two empty masks agree perfectly."""
    union = int(np.count_nonzero(predicted | truth))
    return 1.0 if union == 0 else int(np.count_nonzero(predicted & truth)) / union


def _ratio(part: int, whole: int) -> float:
    return 1.0 if whole == 0 else part / whole


def blocks(samples: list[Sample], folds: int, sowing: dict[str, SownPoints]) -> list[_Fold]:
    """`folds` contiguous blocks of samples, each with everything else's training data.

    Each photo is counted once; a fold's colour counts are the total minus its own block.
    """
    if folds < 2 or folds > len(samples):
        raise VisionError(f"folds must be between 2 and the {len(samples)} photos, got {folds}")
    counts = [colour_counts(sample.photo, sample.vegetation) for sample in samples]
    cells = [
        training_cells(
            cell_features(sample.photo, sample.vegetation, sample.mm_per_px, sowing[sample.name]),
            sample.classes,
        )
        for sample in samples
    ]
    everything = sum(counts, NO_COUNTS)
    edges = np.linspace(0, len(samples), folds + 1).round().astype(int)
    return [
        _Fold(
            samples[low:high],
            _without(everything, sum(counts[low:high], NO_COUNTS)),
            functools.reduce(operator.add, cells[:low] + cells[high:]),
        )
        for low, high in itertools.pairwise(edges.tolist())
    ]


def sowing_map(sample: Sample, seed: int = 0) -> SownPoints:
    """Where a robot would have sown: each annotated crop's centre plus a sowing error."""
    centres = np.array([plant.centre_px for plant in sample.objects if plant.kind == CROP])
    rng = np.random.default_rng([seed, zlib.crc32(sample.name.encode())])
    error_px = rng.normal(0.0, SOWING_ERROR_MM / sample.mm_per_px, centres.shape)
    return (centres + error_px).reshape(-1, 2)


def score_classes(sample: Sample, classes: NDArray[np.uint8], targets: list[Target]) -> ClassScore:
    """A class map and weeding targets against the sample's truth (SCORING.md)."""
    labelled = sample.classes != IGNORE
    counts = {}
    for kind in (CROP, WEED):
        predicted, truth = (classes == kind) & labelled, (sample.classes == kind) & labelled
        counts[kind] = (
            int(np.count_nonzero(predicted & truth)),
            int(np.count_nonzero(predicted | truth)),
        )
    weeds = [plant for plant in sample.objects if plant.kind == WEED]
    crops = [plant for plant in sample.objects if plant.kind == CROP]
    strikes = [target for target in targets if target.action == Action.WEED]
    matched: set[int] = set()
    for target in strikes:
        for index, weed in enumerate(weeds):
            if index not in matched and weed.contains(target.x_px, target.y_px):
                matched.add(index)
                break
    return ClassScore(
        crop_intersection=counts[CROP][0],
        crop_union=counts[CROP][1],
        weed_intersection=counts[WEED][0],
        weed_union=counts[WEED][1],
        weed_objects=len(weeds),
        weed_targets=len(strikes),
        weed_hits=len(matched),
        crop_strikes=sum(
            any(crop.contains(target.x_px, target.y_px) for crop in crops) for target in strikes
        ),
        reviews=len(targets) - len(strikes),
    )


def _without(total: ColourCounts, part: ColourCounts) -> ColourCounts:
    return ColourCounts(total.plant - part.plant, total.soil - part.soil)


def evaluate(dataset: Dataset, scale: float = 0.5, folds: int = 4, seed: int = 0) -> Report:
    """Every detector on every photo of `dataset`, at `scale` of the stored size."""
    samples = list(dataset.samples(scale))
    sowing = {sample.name: sowing_map(sample, seed) for sample in samples}
    images = []
    for fold in blocks(samples, folds, sowing):
        colour_model = model_from_counts(fold.training)
        sown_model = CropWeedModel.train(fold.training_cells, uses_sowing_map=True)
        unsown_model = CropWeedModel.train(
            _without_sowing(fold.training_cells), uses_sowing_map=False
        )
        for sample in fold.scored:
            masks = {
                "ours": colour_model.mask(sample.photo),
                "ours_index": vegetation_mask(sample.photo),
                "farmbot": farmbot_mask(sample.photo) > 0,
            }
            scores = {name: round(iou(mask, sample.vegetation), 4) for name, mask in masks.items()}
            sown = sowing[sample.name]
            cells = cell_features(sample.photo, masks["ours"], sample.mm_per_px, sown)
            unsown_cells = Cells(
                cells.side_px, cells.features[..., : len(SHAPE_FEATURES)], cells.planted
            )
            outcomes = {
                "ours_sown": _with_targets(
                    sown_model.classify_cells(cells, masks["ours"]), sample, sown
                ),
                "ours_unsown": _with_targets(
                    unsown_model.classify_cells(unsown_cells, masks["ours"]), sample, sown
                ),
                "farmbot_sown": farmbot_crop_weed(
                    sample.photo, sample.mm_per_px, sown, plant_radius_mm=sample.crop_spread_mm
                ),
            }
            class_scores = {
                name: score_classes(sample, classes, targets)
                for name, (classes, targets) in outcomes.items()
            }
            images.append(ImageScore(name=sample.name, vegetation_iou=scores, classes=class_scores))
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
        classes={name: _summary([image.classes[name] for image in images]) for name in CLASSIFIERS},
    )


def _with_targets(
    classes: NDArray[np.uint8], sample: Sample, sown: SownPoints
) -> tuple[NDArray[np.uint8], list[Target]]:
    settings = WeedingSettings(crop_spread_mm=sample.crop_spread_mm)
    return classes, weeding_targets(classes, sample.mm_per_px, sown, settings)


def _without_sowing(cells: TrainingCells) -> TrainingCells:
    return TrainingCells(cells.features[:, : len(SHAPE_FEATURES)], cells.classes)


def _summary(scores: list[ClassScore]) -> ClassSummary:
    total = ClassScore(
        **{
            field: sum(getattr(score, field) for score in scores)
            for field in ClassScore.model_fields
        }
    )
    return ClassSummary(
        crop_iou=round(total.crop_iou, 4),
        weed_iou=round(total.weed_iou, 4),
        mean_iou=round((total.crop_iou + total.weed_iou) / 2, 4),
        weed_recall=round(_ratio(total.weed_hits, total.weed_objects), 4),
        weed_precision=round(_ratio(total.weed_hits, total.weed_targets), 4),
        crop_strikes=total.crop_strikes,
        reviews=total.reviews,
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
    lines += ["", "crop / weed IoU, weed targets hit / weed plants, crop strikes, reviews"]
    lines.append(f"{'image':<14}" + "".join(f"{name:>26}" for name in CLASSIFIERS))
    for image in report.images:
        cells = "".join(_class_cell(image.classes[name]) for name in CLASSIFIERS)
        lines.append(f"{image.name:<14}{cells}")
    lines += ["", f"{'summary':<14}" + "".join(f"{name:>14}" for name in CLASSIFIERS)]
    for field in ClassSummary.model_fields:
        values = [getattr(report.classes[name], field) for name in CLASSIFIERS]
        lines.append(f"{field:<14}" + "".join(f"{value:>14.3f}" for value in values))
    return "\n".join(lines)


def _class_cell(score: ClassScore) -> str:
    return (
        f"{score.crop_iou:6.2f}/{score.weed_iou:4.2f} "
        f"{score.weed_hits:3d}/{score.weed_objects:<3d}{score.crop_strikes:3d}{score.reviews:4d}"
    )
