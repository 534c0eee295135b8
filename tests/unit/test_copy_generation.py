"""Copy generation with a scripted writer over in-memory stores: what is written, where, once per window, and
when nothing is."""

import json
from datetime import UTC, datetime

import pytest
from creative.generation.candidates import clean, novel
from creative.generation.prompts import few_shot_prompt
from creative.generation.service import CopyGeneration, GenerationRules, window_of
from creative.materials import Material, MaterialKind, MaterialStatus, SourceObject
from in_memory.adapters import InMemoryMaterialRepository, InMemoryObjectStore

from tests.factories import racing_world

NOW = datetime(2026, 11, 30, 13, 20, tzinfo=UTC)


class ScriptedWriter:
    """Answers from a script, cycling; records the prompts and seeds it was given."""

    name, version = "scripted", "1"

    def __init__(self, answers):
        self.answers, self.calls = list(answers), []

    def write(self, messages, *, seed):
        self.calls.append((messages, seed))
        return self.answers[(len(self.calls) - 1) % len(self.answers)]


def copy_material(i: int, text: str, line: str = "food", status=MaterialStatus.ADMITTED) -> Material:
    return Material(
        material_id=f"mat_c{i}",
        kind=MaterialKind.COPY,
        status=status,
        business_line=line,
        category="coffee",
        source=SourceObject(bucket="b", key=f"uploads/{line}/coffee/copy.txt", line=i),
        text=text,
        created_at=f"2026-11-25T00:00:{i:02d}.000000Z",
    )


EXAMPLES = (copy_material(91, "Cold brew, warm smiles"), copy_material(92, "Your cup, your way"))


def generation(writer, *materials, rules=None, compliance=None):
    """Over in-memory stores holding `materials` and, for each line they name, two more admitted lines (a
    line needs three examples)."""
    repository = InMemoryMaterialRepository()
    lines = {m.business_line for m in materials}
    extra = [
        e.model_copy(update={"material_id": f"{e.material_id}{line}", "business_line": line})
        for e in EXAMPLES
        for line in lines
    ]
    for m in [*materials, *extra]:
        repository.put_new(m)
    world = racing_world()
    objects = InMemoryObjectStore()
    service = CopyGeneration(
        repository,
        world.creatives,
        world.state,
        objects,
        lambda: writer,
        uploads_bucket="up",
        rules=rules,
        compliance=compliance,
    )
    return service, objects


def test_answers_are_cleaned_to_one_line_of_copy():
    assert clean('1. "Wake up to fresh roast!"\nmore', min_chars=4, max_chars=90) == "Wake up to fresh roast!"
    assert clean("Headline: Brewed for you #coffee ☕", min_chars=4, max_chars=90) == "Brewed for you coffee"
    assert clean("ok", min_chars=4, max_chars=90) is None
    assert clean("x" * 100, min_chars=4, max_chars=90) is None
    assert novel(["Fresh Roast!", "fresh roast", "New blend"], ["FRESH  ROAST"]) == ["New blend"]


def test_the_prompt_demonstrates_the_best_examples_as_earlier_answers_and_rotates_them():
    first = few_shot_prompt("coffee_shops", ["A", "B", "C"], ["Food & Drink"], 0)
    assert "coffee shops" in first[0]["content"] and "Food & Drink" in first[0]["content"]
    answers = [m["content"] for m in first if m["role"] == "assistant"]
    assert answers == ["C", "B", "A"]  # the best nearest the model's own turn
    assert first[-1]["role"] == "user"
    rotated = [
        m["content"] for m in few_shot_prompt("coffee", ["A", "B", "C"], [], 1) if m["role"] == "assistant"
    ]
    assert rotated == ["A", "C", "B"]


def test_new_lines_are_written_as_an_upload_with_a_provenance_record():
    writer = ScriptedWriter(
        [
            "Fresh roast, every morning",
            "Old favourite",
            "Your mug, your morning",
            "fresh ROAST, every morning!",
        ]
    )
    service, objects = generation(
        writer, copy_material(1, "Old favourite"), rules=GenerationRules(per_line_cap=2)
    )
    (report,) = service.run(NOW, lambda: 600.0)
    assert report.outcome == "written" and report.written == [
        "Fresh roast, every morning",
        "Your mug, your morning",
    ]
    assert report.key == "uploads/food/coffee/generated-20261130T12.txt"
    assert objects.objects[("up", report.key)] == b"Fresh roast, every morning\nYour mug, your morning\n"
    provenance = json.loads(objects.objects[("up", "generated/food/20261130T12.json")])
    assert provenance["generator"] == "scripted@1" and "Old favourite" in provenance["examples"]
    assert provenance["seeds"] == [seed for _, seed in writer.calls] and len(set(provenance["seeds"])) == 3


def test_the_same_window_twice_writes_nothing_new_and_the_next_window_does():
    writer = ScriptedWriter(["Fresh roast", "Bold beans"])
    service, objects = generation(writer, copy_material(1, "Old favourite"))
    service.run(NOW, lambda: 600.0)
    calls, stored = len(writer.calls), dict(objects.objects)
    (again,) = service.run(NOW.replace(hour=17), lambda: 600.0)  # same 12:00-18:00 window
    assert again.outcome == "already_written" and len(writer.calls) == calls and objects.objects == stored
    assert service.run(NOW.replace(hour=18), lambda: 600.0)[0].outcome == "written"


def test_lines_without_copy_with_a_full_review_queue_or_without_time_get_nothing():
    writer = ScriptedWriter(["Fresh roast"])
    pending = [copy_material(i, f"Pending {i}", status=MaterialStatus.NEEDS_REVIEW) for i in range(2, 5)]
    service, objects = generation(
        writer,
        copy_material(1, "Old favourite"),
        *pending,
        copy_material(9, "Pets line copy", line="pets"),
        rules=GenerationRules(max_pending_review=3),
    )
    outcomes = {r.business_line: r.outcome for r in service.run(NOW, lambda: 600.0)}
    assert outcomes == {"food": "review_queue_full", "pets": "written"}
    # Out of time: lines are reported, not started, and no model is even loaded
    idle = ScriptedWriter(["x"])
    late, _ = generation(idle, copy_material(1, "Old favourite"))
    assert [r.outcome for r in late.run(NOW, lambda: 10.0)] == ["out_of_time"] and idle.calls == []


def test_nothing_new_writes_no_file():
    writer = ScriptedWriter(["Old favourite", "no"])
    service, objects = generation(writer, copy_material(1, "Old favourite"))
    (report,) = service.run(NOW, lambda: 600.0)
    assert report.outcome == "nothing_new" and report.attempts == 16 and objects.objects == {}


def test_windows_are_named_by_their_start():
    assert window_of(datetime(2026, 11, 30, 5, 59, tzinfo=UTC), 6) == "20261130T00"
    assert window_of(datetime(2026, 11, 30, 23, 0, tzinfo=UTC), 6) == "20261130T18"


def test_a_line_with_too_few_examples_or_a_banned_answer_gets_nothing_of_it():
    from creative.quality.compliance import ComplianceList
    from in_memory.adapters import InMemoryComplianceLists

    # A line with a single admitted line of copy: nothing to imitate
    lonely = InMemoryMaterialRepository()
    lonely.put_new(copy_material(1, "Old favourite"))
    world = racing_world()
    alone = CopyGeneration(
        lonely,
        world.creatives,
        world.state,
        InMemoryObjectStore(),
        lambda: ScriptedWriter(["x"]),
        uploads_bucket="up",
    )
    assert [r.outcome for r in alone.run(NOW, lambda: 600.0)] == ["too_few_examples"]
    # Answers that make a banned claim or name a competitor are dropped before anything is written
    writer = ScriptedWriter(["A miracle cure in a cup", "Better than Starbucks", "Fresh roast daily"])
    lists = InMemoryComplianceLists(
        ComplianceList(business_line="*", banned_claims=["miracle cure"]),
        ComplianceList(business_line="food", competitors=["Starbucks"]),
    )
    service, objects = generation(writer, copy_material(1, "Old favourite"), compliance=lists)
    (report,) = service.run(NOW, lambda: 600.0)
    assert report.written == ["Fresh roast daily"]


def test_a_line_that_restates_another_lines_product_is_not_written():
    writer = ScriptedWriter(
        ["Crunchy kibble your puppy will love", "Fresh roast for your puppy", "Roast and brew, done right"]
    )
    pets = [
        copy_material(50 + i, text, line="pets")
        for i, text in enumerate(["Crunchy kibble for happy dogs", "Every puppy deserves a treat"])
    ]
    service, objects = generation(writer, copy_material(1, "Old favourite roast"), *pets)
    reports = {r.business_line: r for r in service.run(NOW, lambda: 600.0)}
    # "kibble", "crunchy" and "puppy" are only the pets line's words: two or more of them is its product
    assert reports["food"].written == ["Fresh roast for your puppy", "Roast and brew, done right"]
    assert "Crunchy kibble your puppy will love" in reports["pets"].written  # its own line's words

    # Common words count for no line: "your" and "will" in another line's copy make nothing foreign
    from creative.generation.candidates import foreign_words

    assert foreign_words(
        "Coffee your morning will love", {"coffee", "morning"}, {"your", "will", "love"}
    ) == ["love"]


def test_a_missing_model_fails_the_run_before_anything_is_written_and_its_retry_writes_once():
    calls = []

    def missing_model():
        calls.append(1)
        raise FileNotFoundError("s3://assets/models/generator/model.onnx")

    service, objects = generation(ScriptedWriter(["x"]), copy_material(1, "Old favourite"))
    service._writer = missing_model
    with pytest.raises(FileNotFoundError):
        service.run(NOW, lambda: 600.0)
    assert calls and objects.objects == {}  # nothing half-written: the retry starts clean
    service._writer = lambda: ScriptedWriter(["Fresh roast daily"])
    (report,) = service.run(NOW, lambda: 600.0)
    assert report.outcome == "written" and len(objects.objects) == 2  # the copy file and its provenance


def test_garbage_answers_write_nothing():
    writer = ScriptedWriter(["", "   ", "#### ****", "x" * 300])
    service, objects = generation(writer, copy_material(1, "Old favourite"))
    (report,) = service.run(NOW, lambda: 600.0)
    assert report.outcome == "nothing_new" and objects.objects == {}
