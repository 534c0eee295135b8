"""Quality checks on real photos (and degraded copies of them) and on copy, as admission runs them."""

import io

import numpy as np
import pytest
from creative.admission.limits import AdmissionLimits
from creative.admission.service import Admission
from creative.materials import MaterialStatus, ReasonCode
from creative.placements import placements_for
from creative.quality.compliance import ComplianceList, compliance_findings, normal_form
from creative.quality.copy_checks import copy_findings
from creative.quality.image_checks import image_findings
from creative.quality.policy import DEFAULT_POLICY
from creative.quality.verdicts import Verdict
from creative.uploads import UploadedObject
from demo import image_files
from in_memory.adapters import (
    InMemoryComplianceLists,
    InMemoryMaterialEvents,
    InMemoryMaterialRepository,
    InMemoryObjectStore,
    InMemoryQualityPolicies,
)
from PIL import Image, ImageEnhance, ImageFilter

NOW = "2026-11-30T12:00:00.000000Z"
BUCKET = "uploads-bucket"


def photo(name: str = "coffee.png") -> Image.Image:
    return Image.open(io.BytesIO(image_files.photo_bytes(name))).convert("RGB")


def jpeg(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue()))


def verdicts(image: Image.Image, is_jpeg: bool = False) -> dict[ReasonCode, Verdict]:
    findings, _, _ = image_findings(image, *image.size, is_jpeg, DEFAULT_POLICY)
    return {f.code: f.verdict for f in findings}


@pytest.mark.parametrize("name", ["coffee.png", "chelsea.png", "astronaut.png", "motorcycle_left.png"])
def test_sharp_well_exposed_photos_pass_every_image_check(name):
    assert set(verdicts(photo(name)).values()) == {Verdict.PASS}


@pytest.mark.parametrize(
    "degrade, code",
    [
        (lambda im: im.filter(ImageFilter.GaussianBlur(4)), ReasonCode.IMAGE_BLURRY),
        (lambda im: ImageEnhance.Brightness(im).enhance(0.2), ReasonCode.IMAGE_UNDEREXPOSED),
        (lambda im: ImageEnhance.Brightness(im).enhance(3.0), ReasonCode.IMAGE_OVEREXPOSED),
        (lambda im: ImageEnhance.Contrast(im).enhance(0.1), ReasonCode.IMAGE_LOW_CONTRAST),
    ],
    ids=["blurred", "darkened", "blown-out", "washed-out"],
)
def test_a_degraded_copy_of_a_real_photo_is_caught_by_its_check(degrade, code):
    assert verdicts(degrade(photo()))[code] in (Verdict.REVIEW, Verdict.REJECT)


def test_heavy_jpeg_compression_is_flagged_and_a_good_jpeg_is_not():
    assert verdicts(jpeg(photo(), 10), is_jpeg=True)[ReasonCode.IMAGE_COMPRESSION_ARTIFACTS] is Verdict.REVIEW
    assert verdicts(jpeg(photo(), 90), is_jpeg=True)[ReasonCode.IMAGE_COMPRESSION_ARTIFACTS] is Verdict.PASS


@pytest.mark.parametrize(
    "size, fits",
    [((600, 400), ["home_feed"]), ((1200, 300), ["banner"]), ((720, 1280), ["story"]), ((200, 900), [])],
)
def test_placements_are_fitted_by_size_and_shape(size, fits):
    assert placements_for(*size) == fits


def test_an_image_that_fits_no_placement_waits_for_an_operator():
    tall = Image.fromarray((np.random.default_rng(0).random((900, 200, 3)) * 255).astype(np.uint8))
    assert verdicts(tall)[ReasonCode.NO_PLACEMENT_FITS] is Verdict.REVIEW


@pytest.mark.parametrize(
    "text, code, verdict",
    [
        ("FRESH COFFEE DELIVERED TODAY", ReasonCode.COPY_ALL_CAPS, Verdict.REVIEW),
        ("Best beans in town!!!", ReasonCode.COPY_REPEATED_PUNCTUATION, Verdict.REVIEW),
        ("Party time 🎉🎉🎉🎉", ReasonCode.COPY_TOO_MANY_EMOJI, Verdict.REVIEW),
        ("1234 5678", ReasonCode.COPY_DIGITS_ONLY, Verdict.REJECT),
        ("Order at www.beans-online.com", ReasonCode.COPY_CONTAINS_URL, Verdict.REJECT),
        ("Call +44 20 7946 0958 now", ReasonCode.COPY_CONTAINS_PHONE, Verdict.REJECT),
    ],
)
def test_copy_form_checks_give_their_reason(text, code, verdict):
    findings, _ = copy_findings(text, DEFAULT_POLICY)
    assert {f.code: f.verdict for f in findings}[code] is verdict


def test_ordinary_copy_passes_the_form_checks():
    findings, caps = copy_findings("Fresh beans... roasted today, 20% off!", DEFAULT_POLICY)
    assert all(f.verdict is Verdict.PASS for f in findings) and caps < 0.1


@pytest.mark.parametrize(
    "text, phrase",
    [
        ("Get RICH quick", "get rich"),
        ("G3t r1ch now", "get rich"),
        ("getrich.scheme", "get rich"),
        ("m i r a c l e cure", "miracle"),
        ("Bétter than Stärbucks", "starbucks"),
        ("STARBUCKS-style latte", "starbucks"),
    ],
)
def test_compliance_matching_sees_through_case_accents_spacing_and_look_alikes(text, phrase):
    listing = ComplianceList(business_line="food", version=3, banned_claims=[phrase])
    (finding,) = compliance_findings(text, [listing])
    assert (
        finding.code is ReasonCode.COPY_BANNED_CLAIM
        and finding.verdict is Verdict.REJECT
        and "v3" in finding.detail
    )


def test_compliance_matching_does_not_fire_inside_other_words():
    listing = ComplianceList(business_line="food", banned_claims=["cure"], regulated=["ass"])
    assert compliance_findings("Secure delivery, first class", [listing]) == []
    assert normal_form("Only 3 days left") == "only 3 days left"


def admit(files: dict[str, bytes], compliance: InMemoryComplianceLists | None = None):
    store = InMemoryObjectStore({(BUCKET, key): data for key, data in files.items()})
    materials, events = InMemoryMaterialRepository(), InMemoryMaterialEvents()
    admission = Admission(
        store,
        materials,
        AdmissionLimits(),
        events,
        compliance=compliance or InMemoryComplianceLists(),
        policies=InMemoryQualityPolicies(),
    )
    for key in files:
        admission.admit(UploadedObject(bucket=BUCKET, key=key, etag=f"e-{key}"), now=NOW)
    return materials, events


def test_copy_lines_are_admitted_reviewed_or_rejected_by_the_lines_lists():
    compliance = InMemoryComplianceLists(
        ComplianceList(business_line="*", version=1, banned_claims=["miracle cure"]),
        ComplianceList(business_line="food", version=2, competitors=["Starbucks"]),
    )
    copy = b"Fresh beans, roasted today\nBetter than Starbucks\nA miracle cure for mornings\n"
    materials, events = admit({"uploads/food/coffee/lines.txt": copy}, compliance)
    by_text = {m.text: m for m in materials.items.values()}
    assert by_text["Fresh beans, roasted today"].status is MaterialStatus.ADMITTED
    review = by_text["Better than Starbucks"]
    assert (
        review.status is MaterialStatus.NEEDS_REVIEW
        and review.reasons[0].code is ReasonCode.COPY_COMPETITOR_NAME
    )
    assert by_text["A miracle cure for mornings"].status is MaterialStatus.REJECTED
    # The model checks run on all but the rejected
    assert sorted(events.announced) == sorted(
        m.material_id for m in materials.items.values() if m.status is not MaterialStatus.REJECTED
    )


def test_a_photo_rejected_for_quality_leaves_its_content_unclaimed():
    blurred = io.BytesIO()
    photo().filter(ImageFilter.GaussianBlur(6)).save(blurred, "PNG")
    materials, _ = admit({"uploads/food/coffee/blurred.png": blurred.getvalue()})
    (material,) = materials.items.values()
    assert material.status is MaterialStatus.REJECTED and material.reasons[0].code is ReasonCode.IMAGE_BLURRY
    assert material.reasons[0].score is not None and material.quality.sharpness is not None
    assert materials.claims == {}  # the same bytes uploaded again are judged again, not called duplicates
