"""Tagging of admitted materials, with in-memory stores and fake taggers (the real ones: tests/models)."""

from collections.abc import Sequence

import numpy as np
import pytest
from creative.materials import Material, MaterialKind, MaterialStatus, SourceObject
from creative.tagging.service import Tagged, Tagging, TaggingOutcome, UnreadableImage
from creative.tags import OPERATOR_SOURCE, MaterialTag, TagLabel, with_labels
from in_memory.adapters import InMemoryMaterialRepository, InMemoryObjectStore, InMemoryTagIndex

NOW = "2026-11-30T12:00:00.000000Z"
BUCKET = "uploads"


class FakeTaggers:
    """Tags copy by keyword and images by their first byte; counts what it was asked."""

    def __init__(self, version: str = "tagger-1"):
        self.version = version
        self.copy_batches: list[list[str]] = []

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
                np.ones(3),
            )
            for text in texts
        ]

    def tag_image(self, data: bytes) -> Tagged:
        if data.startswith(b"bad"):
            raise UnreadableImage("cannot identify image file")
        return Tagged([self._tag("iab:210"), self._tag("colour:red", 0.4)], np.ones(3))


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
    tagging = Tagging(materials, objects, index, taggers, max_image_bytes=1_000_000)
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
    newer = Tagging(materials, objects, index, FakeTaggers("tagger-2"), max_image_bytes=1_000_000)
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


def test_an_unreadable_image_is_recorded_untaggable_with_its_reason(world):
    tagging, materials, objects, _, _ = world
    objects.objects[(BUCKET, "uploads/food/coffee/3.png")] = b"bad bytes"
    (result,) = tagging.tag(["mat_3"], NOW)
    stored = materials.get("mat_3")
    assert result.outcome is TaggingOutcome.UNTAGGABLE
    assert stored.tags == [] and stored.tagging.status == "UNTAGGABLE"
    assert "unreadable image" in stored.tagging.reason


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
