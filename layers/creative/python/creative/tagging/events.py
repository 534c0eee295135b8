"""The event admission publishes for each admitted material, as tagging reads it.

The names are declared here once: the EventBridge adapter publishes with them and the catalog routes them.
"""

from creative.deferred_model import DeferredModel

EVENT_SOURCE = "creative-engine.admission"
MATERIAL_ADMITTED = "Material Admitted"


class MaterialAdmitted(DeferredModel):
    material_id: str
    business_line: str
    kind: str | None = None
