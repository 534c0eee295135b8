"""Per-business-line settings in DynamoDB: the compliance lists (current and every version before it) and the
line's quality thresholds."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from creative.adapters.aws_errors import error_code, translated_errors
from creative.adapters.dynamodb_items import to_item
from creative.adapters.dynamodb_table import DYNAMODB, DynamoTable
from creative.quality.compliance import ComplianceList
from creative.quality.policy import DEFAULT_POLICY, LinePolicy, QualityPolicy

CURRENT = "compliance"
VERSION_PREFIX = "compliance#v"


class DynamoComplianceLists:
    """Items keyed by `business_line` and `setting`: "compliance" holds the current list, and
    "compliance#v<version>" each one ever saved (written in the same transaction, so history is complete)."""

    def __init__(self, client: Any, table_name: str):
        self._table = DynamoTable(client, table_name)

    def current(self, business_line: str) -> ComplianceList:
        document = self._table.get({"business_line": business_line, "setting": CURRENT}, consistent=True)
        if document is None:
            return ComplianceList(business_line=business_line)
        document.pop("setting", None)
        return ComplianceList.model_validate(document)

    def replace(self, listing: ComplianceList, *, expected_version: int) -> ComplianceList | None:
        """Saves the list as version expected_version + 1 if the current version is still the expected one;
        None when another operator saved first."""
        stored = listing.model_copy(update={"version": expected_version + 1})
        document = stored.model_dump(mode="json")
        unchanged = "attribute_not_exists(business_line)" if expected_version == 0 else "version = :expected"
        current = {
            "TableName": self._table.name,
            "Item": to_item({**document, "setting": CURRENT}),
            "ConditionExpression": unchanged,
        }
        if expected_version:
            current["ExpressionAttributeValues"] = to_item({":expected": expected_version})
        history = {
            "TableName": self._table.name,
            "Item": to_item({**document, "setting": f"{VERSION_PREFIX}{stored.version:08d}"}),
            "ConditionExpression": "attribute_not_exists(business_line)",
        }
        try:
            with translated_errors(DYNAMODB):
                self._table.client.transact_write_items(TransactItems=[{"Put": current}, {"Put": history}])
        except ClientError as exc:
            if error_code(exc) == "TransactionCanceledException":
                return None
            raise
        return stored

    def versions(self, business_line: str) -> list[ComplianceList]:
        items = self._table.all(
            "query",
            KeyConditionExpression="business_line = :line AND begins_with(setting, :prefix)",
            ExpressionAttributeValues=to_item({":line": business_line, ":prefix": VERSION_PREFIX}),
            ScanIndexForward=False,
        )
        return [
            ComplianceList.model_validate({k: v for k, v in item.items() if k != "setting"}) for item in items
        ]


POLICY = "quality_policy"


class DynamoQualityPolicies:
    """The "quality_policy" item of a business line: its overrides of the default thresholds."""

    def __init__(self, client: Any, table_name: str, *, defaults: QualityPolicy = DEFAULT_POLICY):
        self._table = DynamoTable(client, table_name)
        self._defaults = defaults

    def overrides(self, business_line: str) -> LinePolicy:
        document = self._table.get({"business_line": business_line, "setting": POLICY}, consistent=True)
        if document is None:
            return LinePolicy(business_line=business_line)
        document.pop("setting", None)
        return LinePolicy.model_validate(document)

    def policy(self, business_line: str) -> QualityPolicy:
        return self._defaults.with_overrides(self.overrides(business_line).overrides)

    def save(self, line_policy: LinePolicy) -> None:
        self._table.put({**line_policy.model_dump(mode="json"), "setting": POLICY})
