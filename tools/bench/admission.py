"""Benchmark of image admission with every quality check, on one core (targets live here, never in tests).

`python -m bench.admission` runs in a fresh interpreter pinned to one CPU and admits real photos re-encoded as
~1 MP JPEGs through the admission service (in-memory store and tables, so the figure is admission's own
work: read, decode, inspect, sharpness, exposure, contrast, JPEG blocking, placements, content hash, record).
Target >= 20 images/s. Writes out/bench/admission.json.
"""

from __future__ import annotations

import statistics

from bench.measure import (
    one_core_main,
    peak_rss_mb,
    timed,
)
from bench.tagging import MEGAPIXEL, one_megapixel_jpegs

TARGET_IMAGES_PER_S = 20
BUCKET = "uploads"


def bench() -> dict:
    from creative.admission.limits import AdmissionLimits
    from creative.admission.service import Admission
    from creative.uploads import UploadedObject
    from in_memory.adapters import (
        InMemoryComplianceLists,
        InMemoryMaterialEvents,
        InMemoryMaterialRepository,
        InMemoryObjectStore,
        InMemoryQualityPolicies,
    )

    jpegs = one_megapixel_jpegs()
    store = InMemoryObjectStore()
    uploads = []
    for i, data in enumerate(jpegs):
        key = f"uploads/food/coffee/photo-{i}.jpg"
        store.objects[(BUCKET, key)] = data
        uploads.append(UploadedObject(bucket=BUCKET, key=key, size=len(data), etag=f"e{i}"))

    def admit_all() -> None:
        # Fresh tables each round: every image is judged in full, never found already recorded.
        admission = Admission(
            store,
            InMemoryMaterialRepository(),
            AdmissionLimits(),
            InMemoryMaterialEvents(),
            compliance=InMemoryComplianceLists(),
            policies=InMemoryQualityPolicies(),
        )
        for upload in uploads:
            admission.admit(upload, now="2026-11-30T12:00:00.000000Z")

    runs = timed(admit_all, repeats=5, warmup=1)
    return {
        "images": len(jpegs),
        "image_megapixels": round(MEGAPIXEL[0] * MEGAPIXEL[1] / 1e6, 2),
        "admission_images_per_s": round(len(jpegs) / statistics.median(runs), 1),
        "admission_images_per_s_best": round(len(jpegs) / min(runs), 1),
        "target_images_per_s": TARGET_IMAGES_PER_S,
        "peak_rss_mb": peak_rss_mb(),
    }


def main(argv: list[str] | None = None) -> dict:
    return one_core_main(
        argv, "bench.admission", "admission", bench, "Image admission benchmark on one core."
    )


if __name__ == "__main__":
    main()
