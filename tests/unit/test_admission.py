"""Admission rules, run against in-memory fakes: every bad file ends REJECTED with its reason."""

import io
import json
import random

import pytest
from creative.admission.limits import AdmissionLimits
from creative.materials import MaterialKind, MaterialStatus, ReasonCode
from creative.uploads import UploadedObject
from demo import image_files
from in_memory.adapters import (
    InMemoryMaterialEvents,
    InMemoryMaterialRepository,
    InMemoryObjectStore,
)
from PIL import Image

from tests.factories import admission_over

BUCKET = "uploads-bucket"
NOW = "2026-11-25T12:00:00.000000Z"


def admit(
    files: dict[str, bytes], limits: AdmissionLimits | None = None, sizes: dict[str, int] | None = None
):
    store = InMemoryObjectStore({(BUCKET, k): v for k, v in files.items()})
    repo = InMemoryMaterialRepository()
    admission = admission_over(store, repo, limits)
    results = []
    for key, data in files.items():
        size = (sizes or {}).get(key, len(data))
        results.append(
            admission.admit(UploadedObject(bucket=BUCKET, key=key, size=size, etag=f"e-{key}"), now=NOW)
        )
    return repo, store, results


def only_material(repo: InMemoryMaterialRepository):
    assert len(repo.items) == 1
    return next(iter(repo.items.values()))


@pytest.mark.parametrize(
    ("key", "data"),
    [
        ("uploads/pets/cats/chelsea.png", image_files.photo_bytes("chelsea.png")),
        ("uploads/food/coffee/coffee.jpg", image_files.jpeg_of("coffee.png")),
        ("uploads/space/people/astronaut.webp", image_files.webp_of("astronaut.png")),
    ],
)
def test_real_photos_are_admitted_with_their_facts(key, data):
    # Given a real photo in each allowed format / When it is admitted
    repo, _, _ = admit({key: data})
    material = only_material(repo)
    # Then it is ADMITTED with its format, size and content hash
    assert material.status is MaterialStatus.ADMITTED, material.reasons
    assert material.kind is MaterialKind.IMAGE
    assert material.image and material.image.width >= 128
    assert material.content_hash and len(material.content_hash) == 64
    assert material.business_line == key.split("/")[1]


@pytest.mark.parametrize(
    ("key", "data", "reason"),
    [
        ("uploads/food/coffee/broken.jpg", image_files.truncated_jpeg(), ReasonCode.CORRUPT_IMAGE),
        ("uploads/food/coffee/bomb.png", image_files.decompression_bomb_png(), ReasonCode.TOO_MANY_PIXELS),
        ("uploads/food/coffee/tiny.png", image_files.tiny_png(), ReasonCode.RESOLUTION_TOO_LOW),
        (
            "uploads/food/coffee/notes.jpg",
            b"Fresh coffee every morning\n",
            ReasonCode.CONTENT_TYPE_MISMATCH,
        ),
        ("uploads/food/coffee/anim.png", image_files.gif_bytes(), ReasonCode.FORMAT_NOT_ALLOWED),
        ("uploads/food/coffee/brochure.pdf", b"%PDF-1.4", ReasonCode.FORMAT_NOT_ALLOWED),
        ("uploads/just-a-file.png", image_files.photo_bytes(), ReasonCode.BAD_KEY_LAYOUT),
        ("uploads/Food/Coffee/x.png", image_files.photo_bytes(), ReasonCode.BAD_KEY_LAYOUT),
    ],
)
def test_bad_images_are_rejected_with_a_reason(key, data, reason):
    repo, _, _ = admit({key: data})
    material = only_material(repo)
    assert material.status is MaterialStatus.REJECTED
    assert reason in [r.code for r in material.reasons]
    assert all(r.detail for r in material.reasons)


def test_oversized_object_is_rejected_before_download():
    # Given an event that says the object is larger than the cap
    key = "uploads/food/coffee/huge.png"
    repo, store, _ = admit({key: image_files.photo_bytes()}, sizes={key: 50 * 1024 * 1024})
    # Then nothing is read and the record says why
    assert store.reads == []
    assert only_material(repo).reasons[0].code is ReasonCode.TOO_MANY_BYTES


def test_under_reported_size_is_still_capped_by_the_reader():
    key = "uploads/food/coffee/liar.png"
    data = image_files.photo_bytes()
    repo, _, _ = admit({key: data}, limits=AdmissionLimits(max_image_bytes=1000), sizes={key: 10})
    assert only_material(repo).reasons[0].code is ReasonCode.TOO_MANY_BYTES


def test_exact_duplicate_is_rejected_and_points_at_the_original():
    data = image_files.photo_bytes("chelsea.png")
    repo, _, _ = admit({"uploads/pets/cats/a.png": data, "uploads/pets/cats/b.png": data})
    by_key = {m.source.key: m for m in repo.items.values()}
    original, copy = by_key["uploads/pets/cats/a.png"], by_key["uploads/pets/cats/b.png"]
    assert original.status is MaterialStatus.ADMITTED
    assert copy.status is MaterialStatus.REJECTED
    assert copy.reasons[0].code is ReasonCode.DUPLICATE_CONTENT
    assert copy.duplicate_of == original.material_id


def test_same_event_twice_changes_nothing_the_second_time():
    key = "uploads/pets/cats/chelsea.png"
    store = InMemoryObjectStore({(BUCKET, key): image_files.photo_bytes()})
    repo = InMemoryMaterialRepository()
    admission = admission_over(store, repo)
    upload = UploadedObject(bucket=BUCKET, key=key, size=None, etag="abc")
    first = admission.admit(upload, now=NOW)
    snapshot = {k: v.model_dump() for k, v in repo.items.items()}
    second = admission.admit(upload, now="2026-11-26T00:00:00.000000Z")
    assert len(first.admitted) == 1 and second.admitted == [] and second.already_recorded == first.admitted
    assert {k: v.model_dump() for k, v in repo.items.items()} == snapshot


def test_copy_file_yields_one_record_per_line():
    text = (
        "Fresh beans, roasted today\n\nx\nFresh beans,   ROASTED today\n"
        + "A" * 200
        + "\nTwo for one\tlattes\n"
    )
    repo, _, results = admit({"uploads/food/coffee/headlines.txt": text.encode()})
    by_line = {m.source.line: m for m in repo.items.values()}
    assert sorted(by_line) == [1, 3, 4, 5, 6]  # the blank line is layout, not copy
    assert by_line[1].status is MaterialStatus.ADMITTED and by_line[1].kind is MaterialKind.COPY
    assert by_line[3].reasons[0].code is ReasonCode.COPY_TOO_SHORT
    assert by_line[4].reasons[0].code is ReasonCode.DUPLICATE_CONTENT  # same copy up to case and spacing
    assert by_line[5].reasons[0].code is ReasonCode.COPY_TOO_LONG
    assert by_line[6].text == "Two for one lattes"
    assert results[0].reasons == {"copy_too_short": 1, "duplicate_content": 1, "copy_too_long": 1}


def test_json_lines_copy_may_name_its_category_and_bad_lines_are_rejected_alone():
    lines = (
        b'{"text": "Weekend flights from 29 euros", "category": "flights"}\nnot json\n{"title": "no text"}\n'
    )
    repo, _, _ = admit({"uploads/travel/deals/copy.jsonl": lines})
    by_line = {m.source.line: m for m in repo.items.values()}
    assert by_line[1].status is MaterialStatus.ADMITTED and by_line[1].category == "flights"
    assert by_line[2].reasons[0].code is ReasonCode.COPY_MALFORMED_LINE
    assert by_line[3].reasons[0].code is ReasonCode.COPY_MALFORMED_LINE


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\xff\xfe\x00bad", ReasonCode.INVALID_UTF8),
        (b"   \n\n  ", ReasonCode.COPY_EMPTY),
        (image_files.photo_bytes(), ReasonCode.INVALID_UTF8),  # an image renamed to .txt
    ],
)
def test_unreadable_copy_files_get_one_rejected_record(data, reason):
    repo, _, _ = admit({"uploads/food/coffee/copy.txt": data})
    assert only_material(repo).reasons[0].code is reason


def test_control_characters_are_rejected_but_emoji_joiners_are_not():
    data = "Bell\x07 in copy\nFamily deals 👨\u200d👩\u200d👧 this week\n".encode()
    repo, _, _ = admit({"uploads/food/coffee/copy.txt": data})
    by_line = {m.source.line: m for m in repo.items.values()}
    assert by_line[1].reasons[0].code is ReasonCode.COPY_INVALID_CHARACTERS
    assert by_line[2].status is MaterialStatus.ADMITTED


def test_deleted_object_is_recorded_as_missing():
    repo = InMemoryMaterialRepository()
    admission = admission_over(InMemoryObjectStore(), repo)
    admission.admit(UploadedObject(bucket=BUCKET, key="uploads/a/b/c.png", size=10, etag="x"), now=NOW)
    assert only_material(repo).reasons[0].code is ReasonCode.OBJECT_MISSING


def test_event_keys_are_url_decoded_once():
    upload = UploadedObject.from_event(
        BUCKET, "uploads/food/coffee/my+photo%281%29.png", 10.0, '"etag"', "null"
    )
    assert upload.key == "uploads/food/coffee/my photo(1).png"
    assert upload.etag == "etag" and upload.version_id is None


def test_a_copy_file_over_the_line_cap_is_rejected_whole_not_truncated():
    lines = "\n".join(f"Headline number {i}" for i in range(12)).encode()
    repo, _, _ = admit({"uploads/food/coffee/many.txt": lines}, limits=AdmissionLimits(max_copy_lines=10))
    assert only_material(repo).reasons[0].code is ReasonCode.COPY_TOO_MANY_LINES


def test_animated_images_are_rejected():
    repo, _, _ = admit({"uploads/food/coffee/anim.webp": image_files.animated_webp()})
    assert only_material(repo).reasons[0].code is ReasonCode.ANIMATED_IMAGE


def test_size_is_reported_as_displayed_after_exif_rotation():
    repo, _, _ = admit({"uploads/food/coffee/turned.jpg": image_files.rotated_jpeg(300, 200, orientation=6)})
    material = only_material(repo)
    assert (material.image.width, material.image.height, material.image.exif_orientation) == (200, 300, 6)


def test_a_malformed_png_header_is_corrupt_not_a_crash():
    data = bytearray(image_files.tiny_png(200, 200))
    data[8:12] = b"\x00\x00\x00\x02"  # IHDR claims 2 bytes
    repo, _, _ = admit({"uploads/food/coffee/bad-header.png": bytes(data)})
    reason = only_material(repo).reasons[0]
    assert reason.code is ReasonCode.CORRUPT_IMAGE and "BytesIO" not in reason.detail


def test_mutated_images_always_end_in_a_record():
    """Fuzz: random byte flips in real PNG/JPEG/WebP files never escape as exceptions (which would retry
    the message and dead-letter it) — each one is admitted or rejected with a reason."""
    rng = random.Random(5)
    originals = [
        image_files.photo_bytes("coffee.png"),
        image_files.jpeg_of("chelsea.png"),
        image_files.webp_of("astronaut.png"),
    ]
    files = {}
    for i in range(150):
        data = bytearray(rng.choice(originals)[:60_000])
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(min(len(data), 400))] = rng.randrange(256)
        files[f"uploads/food/coffee/fuzz{i}.png"] = bytes(data)
    repo, _, _ = admit(files)
    assert len(repo.items) == len(files)
    assert all(m.status is MaterialStatus.ADMITTED or m.reasons for m in repo.items.values())


def test_the_same_photo_may_serve_two_business_lines():
    data = image_files.photo_bytes("chelsea.png")
    repo, _, _ = admit({"uploads/pets/cats/a.png": data, "uploads/food/cats/a.png": data})
    assert {m.status for m in repo.items.values()} == {MaterialStatus.ADMITTED}


def test_a_key_with_a_literal_plus_sent_unencoded_is_still_found():
    # Given an object whose real key contains '+', announced without URL-encoding
    key = "uploads/food/coffee/c++.png"
    store = InMemoryObjectStore({(BUCKET, key): image_files.photo_bytes()})
    repo = InMemoryMaterialRepository()
    upload = UploadedObject.from_event(BUCKET, key, None, "e", None)
    assert upload.key == "uploads/food/coffee/c  .png"  # what decoding alone would look for
    # When it is admitted, Then the raw spelling is used because the decoded one does not exist
    admission_over(store, repo).admit(upload, now=NOW)
    material = only_material(repo)
    assert material.status is MaterialStatus.ADMITTED and material.source.key == key


def test_admitted_materials_are_announced_and_a_retry_announces_them_again():
    # Given a copy file with two good lines and one too short, and a photo rejected as a duplicate of itself
    key = "uploads/food/coffee/lines.txt"
    store = InMemoryObjectStore({(BUCKET, key): b"Fresh beans every morning\nok\nEspresso for two\n"})
    repo, events = InMemoryMaterialRepository(), InMemoryMaterialEvents()
    admission = admission_over(store, repo, events=events)
    upload = UploadedObject(bucket=BUCKET, key=key, size=None, etag="e1")
    # When it is admitted, and the same event is processed again
    admission.admit(upload, now=NOW)
    first = list(events.announced)
    admission.admit(upload, now=NOW)
    # Then the two admitted lines (and only they) were announced, each time: tagging is idempotent
    admitted = sorted(m.material_id for m in repo.items.values() if m.status is MaterialStatus.ADMITTED)
    assert sorted(first) == admitted and len(admitted) == 2
    assert sorted(events.announced) == sorted(admitted * 2)


def test_the_log_line_of_a_large_copy_file_is_bounded():
    # Given a copy file of 2,000 distinct lines
    lines = "\n".join(f"Fresh roast number {i}, delivered today" for i in range(2000))
    _, _, (result,) = admit({"uploads/food/coffee/many.txt": lines.encode()})
    assert len(result.admitted) == 2000
    # Then its log summary counts them all and names only the first few
    summary = result.log_summary()
    assert summary["admitted"] == 2000 and summary["admitted_first"] == result.admitted[:10]
    assert len(json.dumps(summary)) < 1000


def test_the_served_rendition_is_upright_and_carries_no_metadata():
    # Given a real photo stored landscape, whose EXIF says to turn it, with a camera and a GPS position
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate a quarter turn to display
    exif[0x010F] = "PhoneMaker"  # camera make
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 29.0), 3: "E", 4: (2.0, 17.0, 40.0)}  # GPS
    buffer = io.BytesIO()
    Image.open(io.BytesIO(image_files.jpeg_of("coffee.png"))).save(buffer, "JPEG", exif=exif.tobytes())
    repo, store, _ = admit({"uploads/food/coffee/from-phone.jpg": buffer.getvalue()})
    material = only_material(repo)
    assert material.status is not MaterialStatus.REJECTED  # (portrait: no placement fits, so review)
    # Then its served rendition sits under served/, displayed size as stored, with no EXIF at all
    assert material.served.key == f"served/food/{material.material_id}.jpg"
    served = Image.open(io.BytesIO(store.objects[(BUCKET, material.served.key)]))
    assert served.size == (material.image.width, material.image.height) == (400, 600)
    assert not served.getexif() and "exif" not in served.info
    assert store.content_types[(BUCKET, material.served.key)] == "image/jpeg"


def test_a_rejected_image_gets_no_served_rendition():
    repo, store, _ = admit({"uploads/food/coffee/small.png": image_files.tiny_png()})
    assert only_material(repo).served is None
    assert not [key for (_, key) in store.objects if key.startswith("served/")]


def test_generated_copy_waits_for_review_only_where_the_line_asks():
    from creative.quality.policy import LinePolicy

    files = {
        "uploads/food/coffee/generated-20261130T12.txt": b"Fresh roast for early birds\n",
        "uploads/food/coffee/headlines.txt": b"Cold brew, warm smiles\n",
        "uploads/pets/cats/generated-20261130T12.txt": b"Naps, upgraded\n",
    }
    store = InMemoryObjectStore({(BUCKET, k): v for k, v in files.items()})
    repo = InMemoryMaterialRepository()
    from in_memory.adapters import InMemoryQualityPolicies

    policies = InMemoryQualityPolicies(
        LinePolicy(business_line="food", overrides={"review_generated_copy": True})
    )
    admission = admission_over(store, repo, policies=policies)
    for key, data in files.items():
        admission.admit(UploadedObject(bucket=BUCKET, key=key, size=len(data), etag=f"e-{key}"), now=NOW)
    by_key = {m.source.key: m for m in repo.items.values()}
    reviewed = by_key["uploads/food/coffee/generated-20261130T12.txt"]
    assert reviewed.status is MaterialStatus.NEEDS_REVIEW
    assert [r.code for r in reviewed.reasons] == [ReasonCode.GENERATED_COPY_REVIEW]
    assert (
        by_key["uploads/food/coffee/headlines.txt"].status is MaterialStatus.ADMITTED
    )  # an operator's upload
    assert (
        by_key["uploads/pets/cats/generated-20261130T12.txt"].status is MaterialStatus.ADMITTED
    )  # pets does not ask
