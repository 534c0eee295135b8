"""Findings on an admitted-by-bytes image: sharpness, exposure, contrast, compression, placements."""

from __future__ import annotations

import numpy as np
from PIL import Image

from creative.materials import ReasonCode
from creative.placements import placements_for
from creative.quality.image_quality import ImageMeasures, measure
from creative.quality.policy import QualityPolicy
from creative.quality.verdicts import Finding, Verdict, graded


def blockiness(image: Image.Image) -> float:
    """Mean luma step across 8-pixel block edges over the mean step elsewhere: ~1 for a clean photo, well
    above 1.5 when JPEG's 8x8 blocks show (quality 30 and below)."""
    luma = np.asarray(image.convert("L"), dtype=np.float32)
    if min(luma.shape) < 16:
        return 1.0
    across, down = np.abs(np.diff(luma, axis=1)), np.abs(np.diff(luma, axis=0))
    return float(
        0.5
        * (across[:, 7::8].mean() / max(across.mean(), 1e-6) + down[7::8, :].mean() / max(down.mean(), 1e-6))
    )


def image_findings(
    image: Image.Image, width: int, height: int, jpeg: bool, policy: QualityPolicy
) -> tuple[list[Finding], ImageMeasures, list[str]]:
    """The checks' findings, the measures they were made on, and the placements the image fits."""
    measures = measure(image)
    sharpness = measures.sharpness / max((measures.contrast * 255.0) ** 2, 1e-6)
    checks = [
        (
            ReasonCode.IMAGE_BLURRY,
            graded(sharpness, *policy.sharpness, higher_is_worse=False),
            round(sharpness, 5),
            "sharpness {:.4f} (Laplacian variance over luma variance)",
        ),
        (
            ReasonCode.IMAGE_UNDEREXPOSED,
            graded(measures.mean_luma, *policy.dark_luma, higher_is_worse=False),
            measures.mean_luma,
            "mean luma {:.2f}",
        ),
        (
            # Blown-out highlights, or the whole frame too bright: the worse of the two.
            ReasonCode.IMAGE_OVEREXPOSED,
            max(
                graded(measures.clipped_bright, *policy.clipped_bright),
                graded(measures.mean_luma, *policy.bright_luma),
            ),
            measures.clipped_bright,
            "{:.0%} of pixels blown out, mean luma " + f"{measures.mean_luma:.2f}",
        ),
        (
            ReasonCode.IMAGE_LOW_CONTRAST,
            graded(measures.contrast, *policy.contrast, higher_is_worse=False),
            measures.contrast,
            "luma standard deviation {:.3f}",
        ),
    ]
    if jpeg:
        blocks = round(blockiness(image), 3)
        checks.append(
            (
                ReasonCode.IMAGE_COMPRESSION_ARTIFACTS,
                graded(blocks, *policy.blockiness),
                blocks,
                "8x8 block edges {:.2f}x the other steps",
            )
        )
    findings = [
        Finding(code, verdict, detail.format(score), score) for code, verdict, score, detail in checks
    ]
    placements = placements_for(width, height)
    if not placements:
        findings.append(
            Finding(
                ReasonCode.NO_PLACEMENT_FITS,
                Verdict.REVIEW,
                f"{width}x{height} fits no placement's size and shape",
            )
        )
    return findings, measures, placements
