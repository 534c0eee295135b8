"""API Gateway's routing: which declared route a method and path reach (the resource tree, as AWS picks it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from local_runtime.template import ApiRoute


@dataclass(frozen=True)
class RouteMatch:
    route: ApiRoute
    path_parameters: dict[str, str]


class RouteTable:
    """The API's resource tree: which declared route a method and path reach, as API Gateway picks it."""

    def __init__(self, routes: list[ApiRoute]) -> None:
        self._routes = routes
        self._paths = sorted({r.resource_path for r in routes}, key=_specificity, reverse=True)

    def resource_for(self, path: str) -> tuple[str, dict[str, str]] | None:
        """The most specific resource template matching `path` (literal segments beat variables)."""
        for template in self._paths:
            parameters = _match(template, path)
            if parameters is not None:
                return template, parameters
        return None

    def route_for(self, method: str, resource_path: str) -> ApiRoute | None:
        candidates = [r for r in self._routes if r.resource_path == resource_path]
        exact = [r for r in candidates if r.method == method]
        return (exact or [r for r in candidates if r.method == "ANY"] or [None])[0]


def _segments(path: str) -> list[str]:
    return [s for s in path.split("/") if s]


def _specificity(template: str) -> tuple[Any, ...]:
    # Per segment: literal (2) over {variable} (1) over {greedy+} (0), then longer over shorter.
    ranks = [0 if s.endswith("+}") else 1 if s.startswith("{") else 2 for s in _segments(template)]
    return (*ranks, len(ranks))


def _match(template: str, path: str) -> dict[str, str] | None:
    wanted, actual = _segments(template), _segments(path)
    parameters: dict[str, str] = {}
    for index, segment in enumerate(wanted):
        if segment.startswith("{") and segment.endswith("+}"):
            if index >= len(actual):
                return None
            parameters[segment[1:-2]] = "/".join(actual[index:])
            return parameters
        if index >= len(actual):
            return None
        if segment.startswith("{") and segment.endswith("}"):
            parameters[segment[1:-1]] = unquote(actual[index])
        elif segment != actual[index]:
            return None
    return parameters if len(actual) == len(wanted) else None
