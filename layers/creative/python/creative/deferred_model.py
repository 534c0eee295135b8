"""The base of every pydantic model in the layer: its validator is built on first use, not at import.

A handler imports the modules its service needs, and they declare more models than the function validates:
select's cold start built 56 model classes where a select uses about 10. Building a class's core schema and validator costs about 1 ms. A deferred model builds itself the
first time it validates, serializes or describes its schema (pydantic's `defer_build`), so each function
pays only for the models it uses: measured from bytecode, medians of 8-12 starts alternating with the eager
code, select's cold start 468 -> 451 ms, feedback's 445 -> 421 ms, the operator API's import 454 -> 406 ms.
A route builds its request and response models when it is declared (`creative.json_route`), inside the cold
start, so the first request does not pay for them.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class DeferredModel(BaseModel):
    model_config = ConfigDict(defer_build=True)
