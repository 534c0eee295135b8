"""Tagging and the model quality checks of announced materials, with in-memory stores and fake taggers
(the real ones: tests/models)."""

import hashlib
from collections.abc import Sequence

import numpy as np
import pytest
from creative.materials import (
    Decision,
    Material,
    MaterialKind,
    MaterialStatus,
    Reason,
    ReasonCode,
    SourceObject,
)
from creative.quality.near_duplicates import Fingerprint, NearDuplicates, SimilaritySpace
from creative.quality.policy import LinePolicy
from creative.tagging.service import Tagged, Tagging, TaggingOutcome, UnreadableImage
from creative.tags import OPERATOR_SOURCE, MaterialTag, TagLabel, with_labels
from in_memory.adapters import (
    InMemoryMaterialRepository,
    InMemoryObjectStore,
    InMemoryQualityPolicies,
    InMemorySimilarityIndex,
    InMemoryTagIndex,
)

NOW = "2026-11-30T12:00:00.000000Z"
BUCKET = "uploads"


DIM = 16


def vector_of(text: str) -> np.ndarray:
    """A unit vector per distinct text (case-folded): two texts are near-duplicates only when equal."""
    seed = int(hashlib.sha256(text.casefold().encode()).hexdigest()[:8], 16)
    vector = np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
    return vector / np.linalg.norm(vector)


SPACES = {
    kind: SimilaritySpace(
        f"{kind}-test", np.random.default_rng(1).standard_normal((4, 4, DIM)), np.zeros(DIM)
    )
    for kind in ("copy", "image")
}


class FakeTaggers:
    """Tags copy by keyword and images by their first byte; "WIN" in copy is spam-like (0.95); fingerprints
    follow the text (copy) or the bytes (images). Counts what it was asked."""

    def __init__(self, version: str = "tagger-1"):
        self.version = version
        self.copy_batches: list[list[str]] = []
        self.spaces = SPACES

    def names(self) -> dict[str, str]:
        return {
            "selling:gift": "Gift",
            "selling:price_discount": "Price / discount",
            "iab:210": "Food & Drink",
        }

    def _tag(self, tag: str, score: float = 0.9) -> MaterialTag:
        return MaterialTag(
            tag=tag, name=self.names().get(tag, tag), score=score, source=f"model:tagger@{self.version}"
        )

    def tag_copy(self, texts: Sequence[str]) -> list[Tagged]:
        self.copy_batches.append(list(texts))
        return [
            Tagged(
                [self._tag("selling:price_discount")] if "off" in text else [self._tag("selling:gift")],
                Fingerprint(vector_of(text)),
                spam=0.95 if "WIN" in text else 0.05,
            )
            for text in texts
        ]

    def tag_image(self, data: bytes) -> Tagged:
        if data.startswith(b"bad"):
            raise UnreadableImage("cannot identify image file")
        fingerprint = Fingerprint(
            vector_of(data.decode()), phash=int.from_bytes(data[:8].ljust(8, b"0"), "big")
        )
        return Tagged([self._tag("iab:210"), self._tag("colour:red", 0.4)], fingerprint)


def material(i: int, kind: MaterialKind = MaterialKind.COPY, **fields) -> Material:
    key = f"uploads/food/coffee/{'copy.txt' if kind is MaterialKind.COPY else f'{i}.png'}"
    return Material(
        material_id=f"mat_{i}",
        kind=kind,
        status=fields.pop("status", MaterialStatus.ADMITTED),
        business_line="food",
        category="coffee",
        source=SourceObject(
            bucket=BUCKET, key=key, version_id="v1", etag="e1", line=i if kind is MaterialKind.COPY else None
        ),
        text=f"{i}0% off today"
        if kind is MaterialKind.COPY and i % 2
        else ("A gift" if kind is MaterialKind.COPY else None),
        created_at=NOW,
        **fields,
    )


def tagging_over(materials, objects, index, taggers, similarity=None, policies=None) -> Tagging:
    return Tagging(
        materials,
        objects,
        index,
        taggers,
        NearDuplicates(similarity or InMemorySimilarityIndex(), taggers.spaces),
        policies or InMemoryQualityPolicies(),
        max_image_bytes=1_000_000,
    )


@pytest.fixture
def world():
    materials, objects, index, taggers = (
        InMemoryMaterialRepository(),
        InMemoryObjectStore(),
        InMemoryTagIndex(),
        FakeTaggers(),
    )
    for m in [material(1), material(2), material(3, MaterialKind.IMAGE)]:
        materials.put_new(m)
        objects.objects[(BUCKET, m.source.key)] = b"png-bytes"
        objects.versions[(BUCKET, m.source.key)] = "v1"
    tagging = tagging_over(materials, objects, index, taggers)
    return tagging, materials, objects, index, taggers


def test_copy_and_images_are_tagged_and_indexed_and_copy_is_encoded_in_one_batch(world):
    tagging, materials, _, index, taggers = world
    # When three admitted materials are tagged together
    results = tagging.tag(["mat_1", "mat_2", "mat_3"], NOW)
    # Then each is tagged, copy in one encoder batch
    assert [r.outcome for r in results] == [TaggingOutcome.TAGGED] * 3
    assert taggers.copy_batches == [["10% off today", "A gift"]]
    # And the records carry the tags with their source and the tagger's version
    stored = materials.get("mat_1")
    assert stored.tag_ids == ["selling:price_discount"]
    assert stored.tags[0].source == "model:tagger@tagger-1" and stored.tagging.tagger_version == "tagger-1"
    assert materials.get("mat_3").tag_ids == ["iab:210", "colour:red"]
    # And the index answers "food materials about Food & Drink"
    assert [e.material_id for e in index.materials("food", "iab:210", limit=10, next_token=None).items] == [
        "mat_3"
    ]


def test_a_batch_reads_each_lines_quality_policy_once_and_the_next_batch_reads_it_again(world):
    tagging, materials, objects, *_ = world
    policies = tagging._policies
    reads = []
    read = policies.policy
    policies.policy = lambda line: reads.append(line) or read(line)

    tagging.tag(["mat_1", "mat_2", "mat_3"], NOW)
    assert reads == ["food"]

    fourth = material(4)
    materials.put_new(fourth)
    objects.objects[(BUCKET, fourth.source.key)] = b"copy"
    objects.versions[(BUCKET, fourth.source.key)] = "v1"
    tagging.tag(["mat_4"], NOW)  # an operator's change since the first batch applies to this one
    assert reads == ["food", "food"]


def test_the_same_event_twice_writes_the_tags_once(world):
    tagging, materials, _, _, taggers = world
    tagging.tag(["mat_1"], NOW)
    revision = materials.get("mat_1").revision
    # When the event is delivered again
    (again,) = tagging.tag(["mat_1"], "2026-11-30T13:00:00.000000Z")
    # Then nothing is written and the tagger is not asked again
    assert again.outcome is TaggingOutcome.ALREADY_TAGGED
    assert materials.get("mat_1").revision == revision
    assert len(taggers.copy_batches) == 1


def test_a_new_tagger_version_tags_again(world):
    tagging, materials, objects, index, _ = world
    tagging.tag(["mat_1"], NOW)
    newer = tagging_over(materials, objects, index, FakeTaggers("tagger-2"))
    (result,) = newer.tag(["mat_1"], NOW)
    assert (
        result.outcome is TaggingOutcome.TAGGED
        and materials.get("mat_1").tagging.tagger_version == "tagger-2"
    )


@pytest.mark.parametrize(
    "change, detail",
    [
        (
            lambda m, o: m.items.__setitem__(
                "mat_1", m.items["mat_1"].model_copy(update={"status": MaterialStatus.REJECTED})
            ),
            "REJECTED",
        ),
        (lambda m, o: o.objects.pop((BUCKET, "uploads/food/coffee/copy.txt")), "deleted"),
        (lambda m, o: o.versions.__setitem__((BUCKET, "uploads/food/coffee/copy.txt"), "v2"), "re-uploaded"),
        (lambda m, o: m.items.pop("mat_1"), "no such material"),
    ],
    ids=["rejected", "deleted", "re-uploaded", "gone"],
)
def test_a_material_changed_meanwhile_is_skipped_not_tagged(world, change, detail):
    tagging, materials, objects, index, _ = world
    change(materials, objects)
    (result,) = tagging.tag(["mat_1"], NOW)
    assert result.outcome is TaggingOutcome.SKIPPED and detail in result.detail
    assert not index.entries


def test_an_unreadable_image_is_recorded_untaggable_and_sent_to_review_never_passed(world):
    tagging, materials, objects, _, _ = world
    objects.objects[(BUCKET, "uploads/food/coffee/3.png")] = b"bad bytes"
    (result,) = tagging.tag(["mat_3"], NOW)
    stored = materials.get("mat_3")
    assert result.outcome is TaggingOutcome.UNTAGGABLE
    assert stored.tags == [] and stored.tagging.status == "UNTAGGABLE"
    assert "unreadable image" in stored.tagging.reason
    # The model checks could not run on it: an operator looks, it is not admitted by default
    assert stored.status is MaterialStatus.NEEDS_REVIEW
    assert [(r.code, r.verdict) for r in stored.reasons] == [(ReasonCode.NOT_JUDGED, "review")]


def test_operator_labels_win_over_the_model(world):
    tagging, materials, _, index, _ = world
    labels = [
        TagLabel(tag="selling:price_discount", present=False, by="ana", at=NOW),
        TagLabel(tag="selling:gift", present=True, by="ana", at=NOW),
    ]
    materials.items["mat_1"] = materials.items["mat_1"].model_copy(update={"tag_labels": labels})
    tagging.tag(["mat_1"], NOW)
    stored = materials.get("mat_1")
    # The model said price_discount; the operator removed it and added gift
    assert stored.tag_ids == ["selling:gift"] and stored.tags[0].source == OPERATOR_SOURCE
    assert index.materials("food", "selling:price_discount", limit=10, next_token=None).items == []


def test_a_write_that_lost_to_a_concurrent_edit_is_recomputed_on_a_fresh_read(world):
    tagging, materials, _, _, _ = world
    original_update = materials.update
    calls = []

    def edited_meanwhile(m, *, expected_revision):
        if not calls:  # an operator edits between tagging's read and write
            calls.append(1)
            current = materials.items["mat_1"]
            label = TagLabel(tag="selling:gift", present=True, by="ana", at=NOW)
            original_update(
                current.model_copy(update={"tag_labels": [label]}), expected_revision=current.revision
            )
        return original_update(m, expected_revision=expected_revision)

    materials.update = edited_meanwhile
    (result,) = tagging.tag(["mat_1"], NOW)
    assert result.outcome is TaggingOutcome.TAGGED
    assert set(materials.get("mat_1").tag_ids) == {"selling:price_discount", "selling:gift"}


def test_one_failing_material_fails_alone(world):
    tagging, materials, objects, _, _ = world

    class FlakyStore(InMemoryObjectStore):
        def read(self, bucket, key, version_id, max_bytes):
            raise ConnectionError("S3 timed out")

    flaky = FlakyStore(objects.objects)
    flaky.versions = objects.versions
    tagging._objects = flaky
    results = {r.material_id: r.outcome for r in tagging.tag(["mat_1", "mat_3"], NOW)}
    assert results == {"mat_1": TaggingOutcome.TAGGED, "mat_3": TaggingOutcome.FAILED}
    assert materials.get("mat_3").tagging is None


def test_labels_apply_latest_first_and_keep_model_tags_they_do_not_touch():
    model = [MaterialTag(tag="iab:210", name="Food & Drink", score=0.8, source="model:tagger@1")]
    labels = [
        TagLabel(tag="selling:gift", present=True, by="a", at="2026-11-30T10:00:00Z"),
        TagLabel(tag="selling:gift", present=False, by="b", at="2026-11-30T11:00:00Z"),
    ]
    assert [t.tag for t in with_labels(model, labels, {})] == ["iab:210"]


def add_copy(materials, objects, i: int, text: str, **fields) -> str:
    m = material(i, **fields).model_copy(update={"text": text})
    materials.put_new(m)
    objects.objects[(BUCKET, m.source.key)] = b"copy"
    objects.versions[(BUCKET, m.source.key)] = "v1"
    return m.material_id


def test_spam_like_copy_goes_to_review_and_its_tags_stay_out_of_recall(world):
    tagging, materials, objects, index, _ = world
    spam = add_copy(materials, objects, 5, "WIN a free cruise")
    (result,) = tagging.tag([spam], NOW)
    stored = materials.get(spam)
    assert result.status == "NEEDS_REVIEW" and stored.status is MaterialStatus.NEEDS_REVIEW
    assert [(r.code, r.score, r.verdict) for r in stored.reasons] == [
        (ReasonCode.COPY_SPAM_LIKE, 0.95, "review")
    ]
    assert stored.quality.spam == 0.95
    # Tagged for the reviewer, but recall does not see it until an operator admits it
    assert stored.tag_ids == ["selling:gift"] and not index.entries


def test_the_spam_cut_is_the_business_lines(world):
    _, materials, objects, index, taggers = world
    strict = InMemoryQualityPolicies(LinePolicy(business_line="food", overrides={"spam": [0.5, 0.9]}))
    tagging = tagging_over(materials, objects, index, taggers, policies=strict)
    spam = add_copy(materials, objects, 5, "WIN a free cruise")
    tagging.tag([spam], NOW)
    assert materials.get(spam).status is MaterialStatus.REJECTED


def test_a_near_duplicate_of_a_live_material_of_the_line_is_flagged_with_its_neighbour(world):
    tagging, materials, objects, _, _ = world
    tagging.tag(["mat_2"], NOW)  # "A gift"
    again = add_copy(materials, objects, 7, "a GIFT")
    (result,) = tagging.tag([again], NOW)
    stored = materials.get(again)
    assert result.status == "REJECTED"
    (reason,) = stored.reasons
    assert reason.code is ReasonCode.NEAR_DUPLICATE and "mat_2" in reason.detail and reason.score == 1.0
    assert stored.quality.near_duplicate_of == "mat_2" and stored.quality.near_duplicate_similarity == 1.0


def test_only_live_materials_are_neighbours_and_stale_entries_are_dropped(world):
    tagging, materials, objects, _, taggers = world
    similarity = InMemorySimilarityIndex()
    tagging = tagging_over(materials, objects, InMemoryTagIndex(), taggers, similarity=similarity)
    tagging.tag(["mat_2"], NOW)
    # An operator rejects mat_2 after it was indexed
    materials.items["mat_2"] = materials.items["mat_2"].model_copy(update={"status": MaterialStatus.REJECTED})
    again = add_copy(materials, objects, 7, "A gift")
    tagging.tag([again], NOW)
    assert materials.get(again).status is MaterialStatus.ADMITTED
    assert similarity.material_ids() == {again}  # mat_2's entries went when the lookup met them


def test_a_replayed_material_is_not_its_own_near_duplicate(world):
    tagging, materials, objects, index, _ = world
    tagging.tag(["mat_2"], NOW)
    # A new tagger version tags it again: its own index entry is not a neighbour
    newer = tagging_over(
        materials, objects, index, FakeTaggers("tagger-2"), similarity=tagging._near_duplicates._index
    )
    (result,) = newer.tag(["mat_2"], NOW)
    assert (
        result.outcome is TaggingOutcome.TAGGED and materials.get("mat_2").status is MaterialStatus.ADMITTED
    )


def test_a_rejected_material_is_not_filed_as_a_neighbour(world):
    tagging, materials, objects, _, taggers = world
    similarity = InMemorySimilarityIndex()
    strict = InMemoryQualityPolicies(LinePolicy(business_line="food", overrides={"spam": [0.5, 0.9]}))
    tagging = tagging_over(materials, objects, InMemoryTagIndex(), taggers, similarity, strict)
    spam = add_copy(materials, objects, 5, "WIN a free cruise")
    tagging.tag([spam], NOW)
    assert similarity.material_ids() == set()


def test_model_checks_never_undo_an_operators_decision(world):
    tagging, materials, objects, index, _ = world
    decided = Decision(
        by="ana",
        at=NOW,
        from_status=MaterialStatus.NEEDS_REVIEW,
        to_status=MaterialStatus.ADMITTED,
        comment="fine",
    )
    spam = add_copy(materials, objects, 5, "WIN a free cruise", decisions=[decided])
    (result,) = tagging.tag([spam], NOW)
    stored = materials.get(spam)
    # The spam score is recorded, the operator's ADMITTED stands, and recall sees it
    assert stored.status is MaterialStatus.ADMITTED and stored.reasons == [] and stored.quality.spam == 0.95
    assert index.materials("food", "selling:gift", limit=10, next_token=None).items[0].material_id == spam


def test_admissions_review_reasons_are_kept_and_a_new_tagger_replaces_only_its_own(world):
    tagging, materials, objects, index, _ = world
    caps = Reason(code=ReasonCode.COPY_ALL_CAPS, detail="92% capitals", score=0.92, verdict="review")
    shouty = add_copy(
        materials, objects, 5, "WIN BIG TODAY", status=MaterialStatus.NEEDS_REVIEW, reasons=[caps]
    )
    tagging.tag([shouty], NOW)
    assert [r.code for r in materials.get(shouty).reasons] == [
        ReasonCode.COPY_ALL_CAPS,
        ReasonCode.COPY_SPAM_LIKE,
    ]
    newer = tagging_over(
        materials, objects, index, FakeTaggers("tagger-2"), similarity=tagging._near_duplicates._index
    )
    newer.tag([shouty], NOW)
    assert [r.code for r in materials.get(shouty).reasons] == [
        ReasonCode.COPY_ALL_CAPS,
        ReasonCode.COPY_SPAM_LIKE,
    ]
