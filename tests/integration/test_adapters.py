"""DynamoDB and S3 adapters: the behaviour moto can show, and (with botocore's Stubber) the failures it cannot."""

import base64
import json

import boto3
import pytest
import requests
from botocore.stub import Stubber
from creative.adapters.dynamodb_impressions import DynamoImpressionLog
from creative.adapters.dynamodb_items import to_item
from creative.adapters.dynamodb_materials import DynamoMaterialRepository
from creative.adapters.dynamodb_racing_state import DynamoRacingState
from creative.adapters.s3 import S3ObjectStore
from creative.errors import InvalidRequest, NotFound, TransientError
from creative.impressions import Impression
from creative.materials import Material, MaterialKind, MaterialStatus, SourceObject
from creative.tags import TagLabel

from tests.integration.conftest import UPLOADS_BUCKET

NOW = "2026-11-25T12:00:00.000000Z"


def material(i: int, status=MaterialStatus.ADMITTED, content_hash: str | None = None) -> Material:
    return Material(
        material_id=f"mat_{i:03d}",
        kind=MaterialKind.COPY,
        status=status,
        business_line="food",
        category="coffee",
        source=SourceObject(bucket="b", key="uploads/food/coffee/c.txt", line=i),
        text=f"Copy {i}",
        content_hash=content_hash,
        created_at=f"2026-11-25T12:00:{i:02d}.000000Z",
    )


@pytest.fixture
def materials(aws):
    import os

    return DynamoMaterialRepository(aws["dynamodb"], os.environ["MATERIALS_TABLE"])


def test_content_claims_are_atomic_per_business_line(materials):
    assert materials.claim_content("food", "h1", "mat_a") == "mat_a"
    assert materials.claim_content("food", "h1", "mat_b") == "mat_a"  # the second copy loses
    assert materials.claim_content("food", "h1", "mat_a") == "mat_a"  # the owner's replay is not a duplicate
    assert materials.claim_content("pets", "h1", "mat_c") == "mat_c"  # another business line may use it
    # and claim items never show up as materials
    assert materials.list(business_line=None, status=None, limit=50, next_token=None).items == []


def test_a_batch_of_materials_is_read_in_one_call_and_claims_are_never_materials(aws, materials):
    for i in (1, 2, 3):
        materials.put_new(material(i))
    materials.claim_content("food", "h1", "mat_001")
    claim_id = next(
        item["material_id"]["S"]
        for item in aws["dynamodb"].scan(TableName=materials._table.name)["Items"]
        if not item["material_id"]["S"].startswith("mat_")
    )
    calls: list[str] = []
    aws["dynamodb"].meta.events.register("before-call.dynamodb", lambda model, **_: calls.append(model.name))

    found = materials.get_many(["mat_003", "mat_001", "mat_404", "mat_001", claim_id])

    assert calls == ["BatchGetItem"]
    assert sorted(found) == ["mat_001", "mat_003"] and found["mat_003"].text == "Copy 3"


def test_a_replayed_material_write_changes_nothing(materials):
    assert materials.put_new(material(1)) is True
    assert materials.put_new(material(1).model_copy(update={"text": "changed"})) is False
    assert materials.get("mat_001").text == "Copy 1"


def test_materials_by_content_hash(materials):
    materials.put_new(material(1, content_hash="a" * 64))
    materials.put_new(material(2, content_hash="b" * 64))
    page = materials.list(business_line=None, status=None, limit=10, next_token=None, content_hash="a" * 64)
    assert [m.material_id for m in page.items] == ["mat_001"]


def test_labelled_materials_are_listed_beside_claims_and_unlabelled_records(materials):
    # Given a labelled material, an unlabelled one and a content claim (no tag_labels attribute at all)
    label = TagLabel(tag="iab:food", present=True, by="op", at=NOW)
    materials.put_new(material(1).model_copy(update={"tag_labels": [label]}))
    materials.put_new(material(2))
    materials.claim_content("food", "h1", "mat_002")
    # When the operator export lists labelled materials
    page = materials.labelled(limit=50, next_token=None)
    # Then it answers with the one labelled material (found by fuzzing GET /v1/tag-labels: a 500 before)
    assert [m.material_id for m in page.items] == ["mat_001"]


def test_page_tokens_only_continue_the_query_that_issued_them(materials):
    for i in range(5):
        materials.put_new(material(i))
    first = materials.list(business_line="food", status=MaterialStatus.ADMITTED, limit=2, next_token=None)
    assert first.next_token
    second = materials.list(
        business_line="food", status=MaterialStatus.ADMITTED, limit=2, next_token=first.next_token
    )
    assert not {m.material_id for m in first.items} & {m.material_id for m in second.items}
    with pytest.raises(InvalidRequest):  # the same token on another query
        materials.list(
            business_line="food", status=MaterialStatus.REJECTED, limit=2, next_token=first.next_token
        )
    forged = base64.urlsafe_b64encode(json.dumps({"material_id": "x"}).encode()).decode()
    with pytest.raises(InvalidRequest):
        materials.list(business_line=None, status=None, limit=2, next_token=forged)


def impression(**overrides) -> Impression:
    fields = dict(
        impression_id="imp_1",
        creative_id="cr_1",
        business_line="food",
        placement="p",
        user_id="u",
        candidate_count=2,
        propensity=0.5,
        policy_version="racer-v2",
        created_at=NOW,
        expires_at=2_000_000_000,
    )
    return Impression(**{**fields, **overrides})


def stubbed_log():
    client = boto3.client("dynamodb", region_name="us-east-1")
    return (
        client,
        Stubber(client),
        DynamoImpressionLog(
            client, "impressions", DynamoRacingState(client, "racing-state"), sleep=lambda _: None
        ),
    )


def cancelled(*codes: str) -> dict:
    return {
        "service_error_code": "TransactionCanceledException",
        "service_message": "Transaction cancelled",
        "http_status_code": 400,
        "service_error_meta": {},
        "response_meta": {},
    } | {"modeled_fields": {"CancellationReasons": [{"Code": c} for c in codes]}}


def test_a_click_that_meets_a_concurrent_transaction_is_retried_not_lost():
    _, stub, log = stubbed_log()
    item = {"Item": to_item(impression().model_dump(mode="json"))}
    stub.add_response("get_item", item)
    stub.add_client_error("transact_write_items", **cancelled("None", "TransactionConflict"))
    stub.add_response("get_item", item)
    stub.add_response("transact_write_items", {})
    with stub:
        outcome = log.record_event("imp_1", "click", NOW, now_epoch=1_800_000_000)
    assert outcome.counted and outcome.impression.clicked_at == NOW


def test_a_click_that_keeps_conflicting_is_a_retryable_error_not_a_404():
    _, stub, log = stubbed_log()
    item = {"Item": to_item(impression().model_dump(mode="json"))}
    for _ in range(DynamoImpressionLog.CONFLICT_RETRIES + 1):
        stub.add_response("get_item", item)
        stub.add_client_error("transact_write_items", **cancelled("TransactionConflict", "None"))
    with stub, pytest.raises(TransientError):
        log.record_event("imp_1", "click", NOW, now_epoch=1_800_000_000)


def test_a_click_that_lost_the_race_to_the_same_click_is_not_counted_twice():
    _, stub, log = stubbed_log()
    stub.add_response("get_item", {"Item": to_item(impression().model_dump(mode="json"))})
    stub.add_client_error("transact_write_items", **cancelled("ConditionalCheckFailed", "None"))
    stub.add_response("get_item", {"Item": to_item(impression(clicked_at=NOW).model_dump(mode="json"))})
    with stub:
        assert log.record_event("imp_1", "click", NOW, now_epoch=1_800_000_000).counted is False


def test_a_click_on_an_impression_removed_during_the_write_is_not_found():
    # The racing state of a creative outlives it (retraining and the console read it), so the only
    # condition a click can fail is the impression's own: the re-read tells removal from a concurrent click.
    _, stub, log = stubbed_log()
    stub.add_response("get_item", {"Item": to_item(impression().model_dump(mode="json"))})
    stub.add_client_error("transact_write_items", **cancelled("ConditionalCheckFailed", "None"))
    stub.add_response("get_item", {})
    with stub, pytest.raises(NotFound):
        log.record_event("imp_1", "click", NOW, now_epoch=1_800_000_000)


@pytest.mark.parametrize(("code", "status"), [("SlowDown", 503), ("InternalError", 500)])
def test_s3_faults_are_transient(code, status):
    client = boto3.client("s3", region_name="us-east-1")
    stub = Stubber(client)
    stub.add_client_error("get_object", service_error_code=code, http_status_code=status)
    with stub, pytest.raises(TransientError):
        S3ObjectStore(client).read(UPLOADS_BUCKET, "uploads/a/b/c.png", None, 100)


def test_dynamodb_throttling_is_transient():
    client = boto3.client("dynamodb", region_name="us-east-1")
    stub = Stubber(client)
    stub.add_client_error(
        "put_item", service_error_code="ProvisionedThroughputExceededException", http_status_code=400
    )
    with stub, pytest.raises(TransientError):
        DynamoMaterialRepository(client, "materials").put_new(material(1))


def test_the_store_never_reads_past_the_cap(aws):
    aws["s3"].put_object(Bucket=UPLOADS_BUCKET, Key="uploads/a/b/big.png", Body=b"x" * 5000)
    store = S3ObjectStore(aws["s3"])
    with pytest.raises(ValueError):
        store.read(UPLOADS_BUCKET, "uploads/a/b/big.png", None, max_bytes=1000)
    assert store.read(UPLOADS_BUCKET, "uploads/a/b/gone.png", None, max_bytes=1000) is None


def test_line_settings_ride_with_the_racing_state_and_saves_are_conditional(aws):
    import os

    from creative.adapters.dynamodb_racing_state import state_update
    from creative.racing.state import LearnerDeltas, serve_writes

    client = aws["dynamodb"]
    state = DynamoRacingState(client, os.environ["RACING_STATE_TABLE"])
    # Given a creative's counters and the line's objective
    deltas = LearnerDeltas(
        shard=0, epoch=7, weight=1.0, predicted=0.1, elements={"phrase": "ph_0123456789abcdef"}
    )
    client.update_item(
        **state_update(state.name, "cr_1", 0, "food", serve_writes(deltas), {"impressions": 1})
    )
    state.set_objective("food", "ctr")
    # When an operator saves recall rules, and a second operator saves over the same version
    assert state.save_setting("food", "recall", {"business_line": "food", "pins": []}, expected_version=0)
    assert not state.save_setting("food", "recall", {"business_line": "food"}, expected_version=0)
    assert state.save_setting("food", "recall", {"business_line": "food", "pins": [1]}, expected_version=1)
    # Then one read of the line returns its counters, its objective and the latest document with its version
    read = state.read("food")
    assert read.settings["recall"] == {"business_line": "food", "pins": [1], "version": 2}
    assert read.totals["cr_1"].impressions == 1 and read.line["pn:ph_0123456789abcdef@7"] == 1.0
    assert set(read.creatives) == {"cr_1"}  # settings are no creative


def test_a_presigned_upload_form_lands_the_file_under_its_key_with_its_type(aws):
    # Given a form for one JPEG under the uploads prefix
    form = S3ObjectStore(aws["s3"]).presigned_post(
        UPLOADS_BUCKET, "uploads/food/burgers/a.jpg", "image/jpeg", max_bytes=1000, expires_s=60
    )
    # Then it binds the key, the content type and the byte range in its signed policy
    policy = json.loads(base64.b64decode(form.fields["policy"]))
    assert {"Content-Type": "image/jpeg"} in policy["conditions"]
    assert ["content-length-range", 1, 1000] in policy["conditions"]
    assert form.fields["key"] == "uploads/food/burgers/a.jpg"
    # When a browser posts the form with the file
    posted = requests.post(form.url, data=form.fields, files={"file": ("a.jpg", b"\xff\xd8\xff" + b"0" * 10)})
    # Then the object is there, typed as declared
    assert posted.status_code in (200, 204), posted.text
    head = aws["s3"].head_object(Bucket=UPLOADS_BUCKET, Key="uploads/food/burgers/a.jpg")
    assert head["ContentType"] == "image/jpeg"


def test_the_impressions_of_a_window_are_read_day_by_day_from_the_index_never_scanned(aws):
    import os

    from creative.adapters.dynamodb_impressions import DAY_INDEX, DAY_SHARDS

    # Given impressions logged over five days, a few hours apart
    client = aws["dynamodb"]
    log = DynamoImpressionLog(
        client, os.environ["IMPRESSIONS_TABLE"], DynamoRacingState(client, os.environ["RACING_STATE_TABLE"])
    )
    for day in range(20, 25):
        for hour in range(0, 24, 5):
            at = f"2026-11-{day}T{hour:02d}:30:00.000000Z"
            log.record(impression(impression_id=f"imp_{day}_{hour}", created_at=at))
    calls = []
    client.meta.events.register(
        "before-parameter-build.dynamodb.*", lambda model, params, **_: calls.append((model.name, params))
    )
    # When retraining asks for the window from the 21st at noon to the 23rd at noon
    found = {i.impression_id for i in log.since("2026-11-21T12:00:00.000000Z", "2026-11-23T12:00:00.000000Z")}
    # Then it gets exactly the impressions of the window
    window = [(d, h) for d in range(20, 25) for h in range(0, 24, 5)]
    expected = {f"imp_{d}_{h}" for d, h in window if (21, 12) <= (d, h) < (23, 12)}
    assert found == expected
    # And read them with Queries of the by_day index, one per day and shard, never a Scan
    assert {name for name, _ in calls} == {"Query"}
    assert {params["IndexName"] for _, params in calls} == {DAY_INDEX}
    assert len(calls) == 3 * DAY_SHARDS


def test_a_lines_impressions_are_filtered_by_the_log_not_by_its_reader(aws):
    import os

    client = aws["dynamodb"]
    log = DynamoImpressionLog(
        client, os.environ["IMPRESSIONS_TABLE"], DynamoRacingState(client, os.environ["RACING_STATE_TABLE"])
    )
    for n, line in enumerate(["food", "travel", "food", "travel", "travel"]):
        log.record(
            impression(
                impression_id=f"imp_{n}", business_line=line, created_at=f"2026-11-22T0{n}:00:00.000000Z"
            )
        )
    sent = []
    client.meta.events.register(
        "before-parameter-build.dynamodb.Query", lambda params, **_: sent.append(params)
    )
    window = ("2026-11-22T00:00:00.000000Z", "2026-11-23T00:00:00.000000Z")
    assert {i.impression_id for i in log.since(*window, business_line="food")} == {"imp_0", "imp_2"}
    # The filter travels with each Query (DynamoDB applies it), not after the answer
    assert sent and all(p["FilterExpression"] == "business_line = :line" for p in sent)
    assert {i.impression_id for i in log.since(*window, business_line="shoes")} == set()
    assert len(list(log.since(*window))) == 5


def test_an_impression_recorded_again_after_a_lost_answer_is_counted_and_logged_once(aws):
    import os

    # Given an impression recorded, whose answer the caller never saw
    client = aws["dynamodb"]
    state = DynamoRacingState(client, os.environ["RACING_STATE_TABLE"])
    log = DynamoImpressionLog(client, os.environ["IMPRESSIONS_TABLE"], state)
    log.record(impression(impression_id="imp_lost"))
    # When the same call is made again (the SDK's retry, or the caller's)
    log.record(impression(impression_id="imp_lost"))
    # Then the creative counts one impression, and the log holds it once
    assert state.totals(["cr_1"])["cr_1"].impressions == 1
    assert client.scan(TableName=os.environ["IMPRESSIONS_TABLE"])["Count"] == 1


def test_an_impression_that_meets_a_concurrent_transaction_is_retried_not_lost():
    # Given a transaction on the creative's shard in flight (cancelled once with TransactionConflict)
    _, stub, log = stubbed_log()
    stub.add_client_error("transact_write_items", **cancelled("TransactionConflict", "None"))
    stub.add_response("transact_write_items", {})
    # When the impression is recorded, Then the second attempt records it
    with stub:
        log.record(impression())
    stub.assert_no_pending_responses()


def test_an_element_impression_and_its_click_count_on_the_lines_element_item_not_a_creative(aws):
    import os

    from creative.racing.state import LearnerDeltas

    client = aws["dynamodb"]
    state = DynamoRacingState(client, os.environ["RACING_STATE_TABLE"])
    log = DynamoImpressionLog(client, os.environ["IMPRESSIONS_TABLE"], state)
    elements = {"image": "mat_img", "headline": "mat_copy"}
    deltas = LearnerDeltas(
        shard=1, epoch=3, weight=1.0, predicted=0.02, elements=elements, state_id="elements:food"
    )
    served = impression(impression_id="imp_el", creative_id="cr_combination", learner=deltas)
    log.record(served)
    log.record_event("imp_el", "click", NOW, now_epoch=1_800_000_000)
    log.record_event("imp_el", "click", NOW, now_epoch=1_800_000_000)  # a repeat counts nothing

    read = state.read("food")
    assert read.creatives == {} and state.totals(["cr_combination"]) == {}
    assert read.line["pn:mat_img@3"] == 1.0 and read.line["pc:mat_img@3"] == 1.0
    assert read.line["pc:mat_copy@3"] == 1.0 and read.line["bc:@3"] == 1.0
    assert state.totals(["elements:food"])["elements:food"].clicks == 1


def test_the_similarity_index_returns_each_fingerprint_as_filed_once_per_material(aws):
    import os

    import numpy as np
    from creative.adapters.dynamodb_similarity_index import DynamoSimilarityIndex
    from creative.quality.near_duplicates import Fingerprint, IndexedFingerprint

    index = DynamoSimilarityIndex(aws["dynamodb"], os.environ["SIMILARITY_TABLE"])
    vector = np.zeros(384, dtype=np.float32)
    vector[:2] = 0.6, 0.8
    copy = Fingerprint(vector, words=frozenset({"affordable", "coffee", "fast"}))
    image = Fingerprint(vector, phash=2**63 + 5)
    index.add("food#copy-1", ["lsh0:3", "words:ab"], IndexedFingerprint("mat_copy", copy))
    index.add("food#image-1", ["lsh0:3"], IndexedFingerprint("mat_image", image))

    (found,) = index.candidates("food#copy-1", ["lsh0:3", "words:ab", "lsh1:9"])
    assert found.material_id == "mat_copy"
    assert found.fingerprint.words == copy.words and found.fingerprint.phash is None
    assert np.allclose(found.fingerprint.vector, vector, atol=1e-3)
    (found,) = index.candidates("food#image-1", ["lsh0:3"])
    assert found.fingerprint.phash == 2**63 + 5 and found.fingerprint.words is None

    index.remove("food#copy-1", ["lsh0:3", "words:ab"], "mat_copy")
    assert index.candidates("food#copy-1", ["lsh0:3", "words:ab"]) == []


def _fingerprint(seed: int):
    import numpy as np
    from creative.quality.near_duplicates import Fingerprint

    vector = np.random.default_rng(seed).standard_normal(384).astype(np.float32)
    return Fingerprint(vector / np.linalg.norm(vector), words=frozenset({f"w{seed}", "coffee"}))


def test_a_similarity_lookup_is_two_reads_whatever_the_number_of_hash_keys(aws):
    import os

    from creative.adapters.dynamodb_similarity_index import DynamoSimilarityIndex
    from creative.quality.near_duplicates import IndexedFingerprint

    index = DynamoSimilarityIndex(aws["dynamodb"], os.environ["SIMILARITY_TABLE"])
    keys = [f"lsh{band}:{band * 7}" for band in range(24)] + ["words:ab"]
    for i in range(5):  # each shares a different slice of the keys
        index.add("food#copy-1", keys[i * 5 : i * 5 + 6], IndexedFingerprint(f"mat_{i}", _fingerprint(i)))
    calls: list[str] = []
    aws["dynamodb"].meta.events.register("before-call.dynamodb", lambda model, **_: calls.append(model.name))

    found = index.candidates("food#copy-1", keys)

    assert calls == ["BatchGetItem", "BatchGetItem"]
    assert [entry.material_id for entry in found] == [f"mat_{i}" for i in range(5)]
    assert found[3].fingerprint.words == frozenset({"w3", "coffee"})


def test_filing_twice_changes_nothing_and_removal_unfiles_every_bucket(aws):
    import os

    from creative.adapters.dynamodb_similarity_index import DynamoSimilarityIndex
    from creative.quality.near_duplicates import IndexedFingerprint

    table = os.environ["SIMILARITY_TABLE"]
    index = DynamoSimilarityIndex(aws["dynamodb"], table)
    entry = IndexedFingerprint("mat_a", _fingerprint(1))
    index.add("food#copy-1", ["lsh0:1", "lsh1:2"], entry)
    before = aws["dynamodb"].scan(TableName=table)["Items"]
    index.add("food#copy-1", ["lsh0:1", "lsh1:2"], entry)  # a replayed event
    assert sorted(map(str, aws["dynamodb"].scan(TableName=table)["Items"])) == sorted(map(str, before))
    index.add("food#copy-1", ["lsh1:2"], IndexedFingerprint("mat_b", _fingerprint(2)))

    # lsh9:9 was never filled: removal unfiles the buckets that exist and fails on none.
    index.remove("food#copy-1", ["lsh0:1", "lsh1:2", "lsh9:9"], "mat_a")

    assert [e.material_id for e in index.candidates("food#copy-1", ["lsh0:1", "lsh1:2"])] == ["mat_b"]
    items = aws["dynamodb"].scan(TableName=table)["Items"]
    assert {item["material_id"]["S"] for item in items} == {"#members", "mat_b"}
    assert all("mat_a" not in str(item) for item in items)


def test_a_full_bucket_takes_no_more_members_and_the_material_stays_findable_through_its_other_keys(aws):
    import os

    from creative.adapters.dynamodb_similarity_index import DynamoSimilarityIndex
    from creative.quality.near_duplicates import IndexedFingerprint

    index = DynamoSimilarityIndex(aws["dynamodb"], os.environ["SIMILARITY_TABLE"], bucket_cap=2)
    for i in range(3):
        index.add("food#copy-1", ["lsh0:1", f"lsh1:{i}"], IndexedFingerprint(f"mat_{i}", _fingerprint(i)))
    index.add("food#copy-1", ["lsh0:1", "lsh1:0"], IndexedFingerprint("mat_0", _fingerprint(0)))  # a replay

    assert [e.material_id for e in index.candidates("food#copy-1", ["lsh0:1"])] == ["mat_0", "mat_1"]
    assert [e.material_id for e in index.candidates("food#copy-1", ["lsh1:2"])] == ["mat_2"]


def test_the_bucket_cap_holds_when_each_filing_follows_a_lookup_as_in_tagging(aws):
    import os

    from creative.adapters.dynamodb_similarity_index import DynamoSimilarityIndex
    from creative.quality.near_duplicates import IndexedFingerprint

    # The tagging path: a lookup, then the filing.
    index = DynamoSimilarityIndex(aws["dynamodb"], os.environ["SIMILARITY_TABLE"], bucket_cap=3)
    for i in range(5):
        index.candidates("food#copy-1", ["lsh0:1", f"lsh1:{i}"])
        index.add("food#copy-1", ["lsh0:1", f"lsh1:{i}"], IndexedFingerprint(f"mat_{i}", _fingerprint(i)))

    assert [e.material_id for e in index.candidates("food#copy-1", ["lsh0:1"])] == ["mat_0", "mat_1", "mat_2"]
    assert [e.material_id for e in index.candidates("food#copy-1", ["lsh1:4"])] == ["mat_4"]


def test_removal_unfiles_every_key_the_material_was_filed_under_even_when_the_caller_recomputes_others(aws):
    import os

    from creative.adapters.dynamodb_similarity_index import DynamoSimilarityIndex
    from creative.quality.near_duplicates import IndexedFingerprint

    # Keys recomputed from the stored float16 vector can differ in a band whose projection is near zero.
    table = os.environ["SIMILARITY_TABLE"]
    index = DynamoSimilarityIndex(aws["dynamodb"], table)
    index.add("food#copy-1", ["lsh0:1", "lsh1:2"], IndexedFingerprint("mat_a", _fingerprint(1)))
    index.add("food#copy-1", ["lsh1:2"], IndexedFingerprint("mat_b", _fingerprint(2)))

    index.remove("food#copy-1", ["lsh0:1", "lsh1:7"], "mat_a")

    assert all("mat_a" not in str(item) for item in aws["dynamodb"].scan(TableName=table)["Items"])
    assert [e.material_id for e in index.candidates("food#copy-1", ["lsh1:2"])] == ["mat_b"]


def test_the_migration_refiles_an_old_layout_index_so_lookups_find_it_and_a_second_run_moves_nothing(aws):
    import importlib.util
    import os

    import numpy as np
    from creative.adapters.dynamodb_similarity_index import DynamoSimilarityIndex

    from infra.paths import REPO_ROOT

    path = REPO_ROOT / "tools" / "scripts" / "migrate_similarity_index.py"
    spec = importlib.util.spec_from_file_location("migrate_similarity_index", path)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    table = os.environ["SIMILARITY_TABLE"]
    # An index written before 2026-12-01: one item per (bucket, material), each with the fingerprint
    fingerprint = _fingerprint(1)
    for key in ("lsh0:1", "lsh1:2", "words:ab"):
        aws["dynamodb"].put_item(
            TableName=table,
            Item=to_item(
                {
                    "bucket": f"food#copy-1#{key}",
                    "material_id": "mat_old",
                    "vector": fingerprint.vector.astype(np.float16).tobytes(),
                    "words": " ".join(sorted(fingerprint.words)),
                }
            ),
        )
    index = DynamoSimilarityIndex(aws["dynamodb"], table)
    assert index.candidates("food#copy-1", ["lsh1:2"]) == []  # invisible to the new layout

    assert migration.migrate(aws["dynamodb"], table, dry_run=True) == 1
    assert migration.migrate(aws["dynamodb"], table) == 1

    (found,) = index.candidates("food#copy-1", ["lsh1:2"])
    assert found.material_id == "mat_old" and found.fingerprint.words == fingerprint.words
    assert np.allclose(found.fingerprint.vector, fingerprint.vector, atol=1e-3)
    assert [e.material_id for e in index.candidates("food#copy-1", ["words:ab"])] == ["mat_old"]
    assert migration.migrate(aws["dynamodb"], table) == 0
    items = aws["dynamodb"].scan(TableName=table)["Items"]
    assert {item["material_id"]["S"] for item in items} == {"#members", "mat_old"}


def test_the_largest_racing_write_the_learner_allows_fits_dynamodbs_expression_limit(aws):
    import os

    from creative.racing.learner import LearnerConfig
    from creative.racing.state import serve_writes

    from tests.factories import creative, racing_world
    from tests.unit.test_racing import NOW as SERVED_AT
    from tests.unit.test_racing import select_request

    # Given a creative with twenty tags whose image another creative shares (one more, element, tag), and
    # a user with more features than a request may bring into the learner (20, of which the first 13 bring
    # its 16 terms)
    config = LearnerConfig()
    big = creative(1, tags=[f"iab:{i}" for i in range(20)])
    world = racing_world(big, creative(2).model_copy(update={"image_material_id": big.image_material_id}))
    base = select_request()
    request = base.model_copy(
        update={"user": base.user.model_copy(update={"features": {f"f{i:02d}": i for i in range(20)}})}
    )
    served = next(
        r
        for r in (world.racing.select(request, SERVED_AT) for _ in range(60))
        if r.creative.creative_id == "cr_1"
    )
    impression_served = world.log.items[served.impression_id]
    deltas = impression_served.learner
    keys = deltas.creative_steps | deltas.line_steps
    # (every key of the budget: its own and 6 tags, each alone and crossed with 16 terms, less the
    # creative x feature keys that share one of its 64 buckets)
    assert 100 <= len(keys) <= (1 + config.max_tags) * (1 + config.max_terms) == 119
    # When its impression and its click are written through the DynamoDB adapters, on a moto that refuses,
    # as DynamoDB does, any expression over 4 KB
    client = aws["dynamodb"]
    state = DynamoRacingState(client, os.environ["RACING_STATE_TABLE"])
    log = DynamoImpressionLog(client, os.environ["IMPRESSIONS_TABLE"], state)
    log.record(impression_served)
    log.record_event(served.impression_id, "click", NOW, now_epoch=int(SERVED_AT.timestamp()))
    # Then both land: every counter of the impression's write, and the click
    stored = state.read("food")
    assert set(serve_writes(deltas).values) <= set(stored.creatives["cr_1"]) | set(stored.line)
    assert state.totals(["cr_1"])["cr_1"].clicks == 1


def test_a_racing_write_over_dynamodbs_expression_limit_is_refused_before_it_is_sent():
    from creative.adapters.dynamodb_racing_state import state_update
    from creative.racing.state import StateWrite

    fits = state_update(
        "t", "cr_1", 0, "food", StateWrite({f"lw:tu:{i:x}@3": 1.0 for i in range(300)}, []), {}
    )
    assert len(fits["UpdateExpression"]) <= 4096 and fits["ExpressionAttributeNames"]["#0"] == "lw:tu:0@3"
    too_many = StateWrite({f"lw:tu:{i:x}@3": 1.0 for i in range(300)}, [f"lw:tu:{i:x}@1" for i in range(300)])
    with pytest.raises(ValueError, match="expression"):
        state_update("t", "cr_1", 0, "food", too_many, {})
