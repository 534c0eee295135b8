"""The operator console's static files, served by the local API server under `/console/`.

Same origin as the API stage (`/prod/...`), as on AWS where CloudFront serves both: the console calls the
API without CORS. `config.json` is made here (on AWS the stack writes it): where the API is, and that
sign-in is the printed operator key. Every response carries the headers CloudFront's policy adds.
Browser uploads post straight to moto, whose server answers CORS for any origin (on AWS the uploads bucket's
CORS rule names the distribution, which the runtime stands in for: local_runtime.stand_ins).
"""

from __future__ import annotations

import json
import mimetypes
from http import HTTPStatus
from pathlib import Path
from typing import Any

from infra.console_policy import CONFIG_FILE, LOCAL_CONSOLE_PATH, content_security_policy, security_headers
from local_runtime.api_events import HttpRequest, HttpResponse

CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html", ".svg": "image/svg+xml"}


class ConsoleSite:
    prefix = LOCAL_CONSOLE_PATH.rstrip("/")

    def __init__(self, root: Path, config: dict[str, Any], *, aws_endpoint: str) -> None:
        self._root = root.resolve()
        self._config = json.dumps(config).encode()
        csp = content_security_policy(connect=[aws_endpoint], images=[aws_endpoint])
        self._headers = security_headers(csp)

    def serves(self, path: str) -> bool:
        return path == self.prefix or path.startswith(self.prefix + "/")

    def handle(self, request: HttpRequest) -> HttpResponse:
        if request.method not in ("GET", "HEAD"):
            return self._answer(HTTPStatus.METHOD_NOT_ALLOWED, "text/plain", b"GET only")
        if request.path == self.prefix:
            return HttpResponse(HTTPStatus.FOUND, [("Location", LOCAL_CONSOLE_PATH)], b"")
        relative = request.path[len(LOCAL_CONSOLE_PATH) :] or "index.html"
        if relative == CONFIG_FILE:
            return self._answer(HTTPStatus.OK, "application/json", self._config)
        file = (self._root / relative).resolve()
        if not file.is_relative_to(self._root) or not file.is_file():
            return self._answer(HTTPStatus.NOT_FOUND, "text/plain", b"not found")
        content_type = CONTENT_TYPES.get(file.suffix) or mimetypes.guess_type(file.name)[0] or "text/plain"
        return self._answer(HTTPStatus.OK, content_type, file.read_bytes())

    def _answer(self, status: int, content_type: str, body: bytes) -> HttpResponse:
        headers = [("Content-Type", content_type), ("Cache-Control", "no-store"), *self._headers]
        return HttpResponse(int(status), headers, body)
