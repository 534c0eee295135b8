"""Property-based fuzzing of admission's parsers with mutated real files (hypothesis).

The originals are the real photos and copy files the demo uploads (photos scikit-image ships, shrunk so
each example decodes in milliseconds; tools/demo/copy). Mutations: byte flips (most in the header, where
the parsers look first), truncation, inserted and repeated chunks, and the wrong file name suffix.
Whatever comes out, admission must end each upload in at least one record, ADMITTED or with a reason, and
never raise (a raise retries the whole message until it dead-letters). `make test` runs a few dozen
examples per property; `make reliability` runs RELIABILITY_EXAMPLES of them.
"""

import io
import os
from functools import cache

from creative.admission.limits import AdmissionLimits
from creative.materials import MaterialStatus
from creative.uploads import UploadedObject
from demo import image_files
from demo.uploads import COPY_DIR
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from in_memory.adapters import InMemoryMaterialRepository, InMemoryObjectStore
from PIL import Image

from tests.factories import admission_over

BUCKET = "uploads-bucket"
NOW = "2026-11-25T12:00:00.000000Z"

EXAMPLES = int(os.environ.get("RELIABILITY_EXAMPLES", "40"))
PROPERTY = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
SUFFIXES = ("png", "jpg", "jpeg", "webp", "gif", "txt", "jsonl", "bin", "PNG")


@cache
def real_images() -> tuple[bytes, ...]:
    """Real photos in every allowed format, at 256 px on the long side (still real pixels and real headers)."""
    out = []
    for name, fmt in (("coffee.png", "PNG"), ("chelsea.png", "JPEG"), ("astronaut.png", "WEBP")):
        image = Image.open(image_files.skimage_photo(name)).convert("RGB")
        image.thumbnail((256, 256))
        buffer = io.BytesIO()
        image.save(buffer, fmt)
        out.append(buffer.getvalue())
    return tuple(out)


@cache
def real_copy_files() -> tuple[bytes, ...]:
    return tuple(path.read_bytes() for path in sorted(COPY_DIR.glob("*/*")))


@st.composite
def mutated(draw, originals) -> bytes:
    data = bytearray(draw(st.sampled_from(originals())))
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(("flip_header", "flip", "truncate", "insert", "repeat")))
        if not data:
            break
        if kind == "flip_header":
            data[draw(st.integers(0, min(len(data), 64) - 1))] = draw(st.integers(0, 255))
        elif kind == "flip":
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        elif kind == "truncate":
            del data[draw(st.integers(0, len(data) - 1)) :]
        elif kind == "insert":
            at = draw(st.integers(0, len(data)))
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
        else:
            start = draw(st.integers(0, len(data) - 1))
            chunk = data[start : start + draw(st.integers(1, 256))]
            data[start:start] = chunk * draw(st.integers(1, 4))
    return bytes(data)


uploads = st.tuples(
    st.one_of(mutated(real_images), mutated(real_copy_files), st.text(max_size=400).map(str.encode)),
    st.sampled_from(SUFFIXES),
)


def admit_all(files: list[tuple[bytes, str]]) -> tuple[InMemoryMaterialRepository, list[str]]:
    keys = {f"uploads/food/coffee/upload-{i}.{suffix}": data for i, (data, suffix) in enumerate(files)}
    store = InMemoryObjectStore({(BUCKET, key): data for key, data in keys.items()})
    repo = InMemoryMaterialRepository()
    admission = admission_over(store, repo, AdmissionLimits())
    for key, data in keys.items():
        admission.admit(UploadedObject(bucket=BUCKET, key=key, size=len(data), etag=f"e-{key}"), now=NOW)
    return repo, list(keys)


def judged_with_a_reason(material) -> bool:
    return material.status is MaterialStatus.ADMITTED or bool(material.reasons)


@PROPERTY
@given(mutated(real_images), st.sampled_from(SUFFIXES))
def test_every_mutated_image_ends_in_a_record_with_a_reason(data, suffix):
    # Given a real photo, mutated, under any suffix / When it is admitted
    repo, (key,) = admit_all([(data, suffix)])
    # Then it ends in a record: admitted, or rejected or sent to review with a reason
    records = [m for m in repo.items.values() if m.source.key == key]
    assert records and all(judged_with_a_reason(m) for m in records)


@PROPERTY
@given(mutated(real_copy_files), st.sampled_from(("txt", "jsonl", "csv")))
def test_every_mutated_copy_file_ends_in_records_with_reasons(data, suffix):
    # Given a real copy file, mutated / When it is admitted
    repo, (key,) = admit_all([(data, suffix)])
    # Then every line (or the file, when no line can be read) ends in a record with a reason
    records = [m for m in repo.items.values() if m.source.key == key]
    assert records and all(judged_with_a_reason(m) for m in records)


@PROPERTY
@given(st.lists(uploads, min_size=2, max_size=5))
def test_no_mutated_upload_crashes_the_batch(files):
    # Given a batch of mutated images, copy files and arbitrary text under arbitrary suffixes
    # When admission runs through it
    repo, keys = admit_all(files)
    # Then every upload of the batch has its records, each with a reason
    assert {m.source.key for m in repo.items.values()} == set(keys)
    assert all(judged_with_a_reason(m) for m in repo.items.values())
