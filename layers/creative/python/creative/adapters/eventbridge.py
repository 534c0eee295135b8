"""Material events on the stack's EventBridge bus: admission announces what it admitted; tagging listens."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from creative.adapters.aws_errors import translated_errors
from creative.errors import TransientError
from creative.materials import Material
from creative.tagging.events import EVENT_SOURCE, MATERIAL_ADMITTED

ENTRIES_PER_CALL = 10  # PutEvents' maximum


class EventBridgeMaterialEvents:
    def __init__(self, client: Any, bus_name: str):
        self._client = client
        self._bus = bus_name

    def admitted(self, materials: Sequence[Material]) -> None:
        entries = [
            {
                "Source": EVENT_SOURCE,
                "DetailType": MATERIAL_ADMITTED,
                "EventBusName": self._bus,
                "Detail": json.dumps(
                    {
                        "material_id": m.material_id,
                        "business_line": m.business_line,
                        "kind": m.kind.value if m.kind else None,
                    }
                ),
            }
            for m in materials
        ]
        for start in range(0, len(entries), ENTRIES_PER_CALL):
            with translated_errors("EventBridge"):
                response = self._client.put_events(Entries=entries[start : start + ENTRIES_PER_CALL])
            if response.get("FailedEntryCount"):
                codes = sorted(
                    {e.get("ErrorCode", "") for e in response.get("Entries", []) if e.get("ErrorCode")}
                )
                raise TransientError(f"EventBridge refused {response['FailedEntryCount']} events: {codes}")
