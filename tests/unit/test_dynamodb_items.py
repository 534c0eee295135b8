"""The adapter's own DynamoDB item conversion agrees with boto3's, which it replaces on the hot path."""

import math

import pytest
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from creative.adapters.dynamodb_items import from_item, to_item

DOCUMENT = {
    "s": "text",
    "i": 42,
    "neg": -7,
    "f": 0.1,
    "tiny": 1e-7,
    "big": 10**15,
    "t": True,
    "nested": {"list": [1, 2.5, "x", False, {"deep": "y"}], "gone": None},
    "absent": None,
}


def test_items_match_boto3_and_round_trip():
    item = to_item(DOCUMENT)
    expected = {k: v for k, v in DOCUMENT.items() if v is not None}
    expected["nested"] = {"list": DOCUMENT["nested"]["list"]}
    boto3_view = {k: TypeDeserializer().deserialize(v) for k, v in item.items()}
    assert boto3_view.keys() == expected.keys()
    assert from_item(item) == expected
    assert from_item({k: TypeSerializer().serialize(v) for k, v in boto3_view.items()}) == expected


@pytest.mark.parametrize("bad", [math.nan, math.inf, object()])
def test_unstorable_values_are_refused(bad):
    with pytest.raises((ValueError, TypeError)):
        to_item({"x": bad})
