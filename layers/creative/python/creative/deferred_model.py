"""The base of every pydantic model in the layer: its validator is built on first use, not at import.

A handler imports the modules its service needs, and they declare more models than the function validates
(select's cold start built 56 model classes and a select uses about 10, at about 1 ms a class). A deferred
model builds itself the first time it validates, serializes or describes its schema (pydantic's
`defer_build`), so each function pays only for the models it uses (figures in docs/decisions.md, 12-02).
A route builds its request and response models when it is declared (`creative.json_route`), inside the cold
start, so the first request does not pay for them.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class DeferredModel(BaseModel):
    model_config = ConfigDict(defer_build=True)
