"""Composition of creatives: bounded, balanced, same-category first, idempotent."""

from creative.composition import Composition, plan_creatives
from creative.creatives import CreativeStatus
from creative.materials import Material, MaterialKind, MaterialStatus, SourceObject
from creative.tags import MaterialTag, TaggingState
from in_memory.adapters import InMemoryCreativeRepository, InMemoryMaterialRepository

NOW = "2026-11-25T12:00:00.000000Z"


JUDGED = TaggingState(status="TAGGED", tagger_version="tagger-1", tagged_at=NOW)


def material(i: int, kind: MaterialKind, line: str = "food", category: str = "coffee", **fields) -> Material:
    """An admitted material the model checks have judged (tagged), unless `fields` say otherwise."""
    return Material(
        material_id=f"mat_{kind.value}{i}" + ("" if line == "food" else f"_{line}"),
        kind=kind,
        status=fields.pop("status", MaterialStatus.ADMITTED),
        business_line=line,
        category=category,
        source=SourceObject(bucket="b", key=f"uploads/{line}/{category}/{i}"),
        text=f"Copy {i}" if kind is MaterialKind.COPY else None,
        created_at=f"2026-11-25T00:00:{i:02d}.000000Z",
        **({"tagging": JUDGED} | fields),
    )


def test_plan_is_bounded_and_gives_every_material_a_partner_first():
    images = [material(i, MaterialKind.IMAGE) for i in range(4)]
    copies = [material(i, MaterialKind.COPY) for i in range(5)]
    planned = plan_creatives(images, copies, [], cap=8, now=NOW)
    assert len(planned) == 8
    assert len({c.creative_id for c in planned}) == 8
    assert {c.image_material_id for c in planned} == {m.material_id for m in images}


def test_same_category_pairs_come_first():
    images = [
        material(1, MaterialKind.IMAGE, category="tea"),
        material(2, MaterialKind.IMAGE, category="coffee"),
    ]
    copies = [material(1, MaterialKind.COPY, category="coffee")]
    planned = plan_creatives(images, copies, [], cap=1, now=NOW)
    assert planned[0].image_material_id == "mat_image2"


def test_sweep_is_idempotent_and_respects_the_cap_per_business_line():
    materials, creatives = InMemoryMaterialRepository(), InMemoryCreativeRepository()
    for i in range(3):
        materials.put_new(material(i, MaterialKind.IMAGE))
        materials.put_new(material(i, MaterialKind.COPY))
        materials.put_new(material(i, MaterialKind.IMAGE, line="travel"))
    composition = Composition(materials, creatives, cap=5)
    first = composition.compose_all(NOW)
    second = composition.compose_all(NOW)
    assert {r.business_line: r.created for r in first} == {"food": 5, "travel": 0}  # travel has no copy yet
    assert sum(r.created for r in second) == 0
    assert len(creatives.items) == 5


def test_disabled_creatives_free_their_place_under_the_cap_but_are_never_recreated():
    images = [material(i, MaterialKind.IMAGE) for i in range(3)]
    copies = [material(i, MaterialKind.COPY) for i in range(3)]
    first = plan_creatives(images, copies, [], cap=4, now=NOW)
    for creative in first[:2]:
        creative.status = CreativeStatus.DISABLED
    second = plan_creatives(images, copies, first, cap=4, now=NOW)
    assert len(second) == 2
    assert not {c.creative_id for c in second} & {c.creative_id for c in first}


def test_a_sweep_brings_creatives_tags_up_to_date_with_their_elements():
    # Given a creative composed of elements the tagger gave no tags
    materials, creatives = InMemoryMaterialRepository(), InMemoryCreativeRepository()
    image, copy = material(0, MaterialKind.IMAGE), material(0, MaterialKind.COPY)
    materials.put_new(image)
    materials.put_new(copy)
    composition = Composition(materials, creatives, cap=5)
    composition.compose_all(NOW)
    (creative,) = creatives.items.values()
    assert creative.tags == []
    # When an operator (or a new tagger version) gives the elements tags, and the next sweep runs
    tag = MaterialTag(tag="iab:210", name="Food & Drink", score=0.9, source="model:tagger@1")
    materials.items[image.material_id] = image.model_copy(update={"tags": [tag]})
    (report,) = composition.compose_all("2026-11-25T12:05:00.000000Z")
    # Then the creative carries the union of its elements' tags, and a further sweep changes nothing
    assert creative.tags == ["iab:210"] and report.retagged == 1
    assert composition.compose_all("2026-11-25T12:10:00.000000Z")[0].retagged == 0


def test_only_admitted_materials_the_model_checks_have_judged_take_part():
    materials, creatives = InMemoryMaterialRepository(), InMemoryCreativeRepository()
    materials.put_new(material(0, MaterialKind.IMAGE))
    materials.put_new(material(1, MaterialKind.IMAGE, tagging=None))  # model checks still to run
    materials.put_new(material(2, MaterialKind.IMAGE, status=MaterialStatus.NEEDS_REVIEW))
    materials.put_new(material(3, MaterialKind.IMAGE, status=MaterialStatus.REJECTED))
    materials.put_new(material(0, MaterialKind.COPY))
    (report,) = Composition(materials, creatives, cap=10).compose_all(NOW)
    assert (report.images, report.created) == (1, 1)
    assert {c.image_material_id for c in creatives.items.values()} == {"mat_image0"}


def test_a_creative_whose_element_is_no_longer_admitted_is_disabled_and_replaced():
    materials, creatives = InMemoryMaterialRepository(), InMemoryCreativeRepository()
    for i in range(2):
        materials.put_new(material(i, MaterialKind.IMAGE))
    materials.put_new(material(0, MaterialKind.COPY))
    composition = Composition(materials, creatives, cap=1)
    composition.compose_all(NOW)
    (first,) = creatives.items.values()
    # When an operator rejects the creative's image
    rejected = materials.items[first.image_material_id].model_copy(update={"status": MaterialStatus.REJECTED})
    materials.items[first.image_material_id] = rejected
    (report,) = composition.compose_all("2026-11-25T12:05:00.000000Z")
    # Then the creative stops racing, and its place under the cap goes to the other image
    assert report.disabled == 1 and creatives.items[first.creative_id].status is CreativeStatus.DISABLED
    active = [c for c in creatives.items.values() if c.status is CreativeStatus.ACTIVE]
    assert [c.image_material_id for c in active] == [
        m for m in ("mat_image0", "mat_image1") if m != first.image_material_id
    ]
    # And a further sweep changes nothing
    assert composition.compose_all("2026-11-25T12:10:00.000000Z")[0].disabled == 0
