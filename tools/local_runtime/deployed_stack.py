"""What a deployment leaves behind: the template, and the physical names CloudFormation gave its resources."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class DeployedStack:
    stack_name: str
    stack_id: str
    account_id: str
    region: str
    template: dict[str, Any]
    # Logical id -> physical id, as CloudFormation reports it (plus what deploy.py created for moto's gaps).
    physical_ids: dict[str, str]
    # Parameter name -> the value CloudFormation used (SSM-typed parameters already looked up).
    parameters: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.template.get("Resources", {})

    def resource_type(self, logical_id: str) -> str:
        return self.resources[logical_id]["Type"]

    def physical_id(self, logical_id: str) -> str:
        physical = self.physical_ids.get(logical_id)
        if not physical:
            raise KeyError(f"{logical_id} has no physical id in stack {self.stack_name}")
        return physical

    def logical_ids_of_type(self, resource_type: str) -> list[str]:
        return [lid for lid, res in self.resources.items() if res.get("Type") == resource_type]
