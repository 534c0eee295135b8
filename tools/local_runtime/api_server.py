"""The local API Gateway's HTTP server: `/{stage}/...` for the API, `/_local/...` for the runtime's admin routes,
`/console/` for the operator console's files."""

from __future__ import annotations

import logging
import re
import threading
import uuid
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from local_runtime.api_events import (
    INTERNAL_ERROR,
    MISSING_TOKEN,
    NO_SUCH_RESOURCE_STATUS,
    HttpRequest,
    HttpResponse,
    header,
)
from local_runtime.api_gateway import RestApi
from local_runtime.console_site import ConsoleSite

log = logging.getLogger(__name__)
AdminHandler = Callable[[HttpRequest], HttpResponse]


class _HttpServer(ThreadingHTTPServer):
    # socketserver listens with a backlog of 5: 32 clients connecting at once while the accept thread waits
    # for the GIL overflow it, and a client then meets a reset connection. API Gateway refuses no one.
    request_queue_size = 128
    daemon_threads = True


class ApiServer:
    """A ThreadingHTTPServer on 127.0.0.1 serving `/{stage}/...` for the API and `/_local/...` for admin."""

    ADMIN_PREFIX = "/_local"

    def __init__(
        self,
        api: RestApi,
        admin: AdminHandler | None = None,
        port: int = 0,
        console: ConsoleSite | None = None,
    ) -> None:
        self.api = api
        self.admin = admin
        self.console = console
        self._server = _HttpServer(("127.0.0.1", port), _request_handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, name="api-gateway", daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        """The stage's base URL, shaped like the stack's ApiUrl output (".../prod/")."""
        return f"http://127.0.0.1:{self.port}/{self.api.stage}/"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def dispatch(
        self, method: str, raw_path: str, headers: list[tuple[str, str]], body: bytes, source_ip: str
    ) -> HttpResponse:
        split = urlsplit(raw_path)
        path = re.sub("/{2,}", "/", split.path)  # "…/prod/" + "/v1/x" is a common join; mean "/prod/v1/x"
        host = header(headers, "host") or f"127.0.0.1:{self.port}"
        if path == self.ADMIN_PREFIX or path.startswith(self.ADMIN_PREFIX + "/"):
            if self.admin is None:
                return HttpResponse.json(HTTPStatus.NOT_FOUND, {"message": "no admin routes"})
            return self.admin(
                HttpRequest(method, path, "", parse_qsl(split.query, True), headers, body, source_ip, host)
            )
        if self.console is not None and self.console.serves(path):
            return self.console.handle(HttpRequest(method, path, "", [], headers, body, source_ip, host))
        stage_prefix = f"/{self.api.stage}"
        if path != stage_prefix and not path.startswith(stage_prefix + "/"):
            return HttpResponse.json(NO_SUCH_RESOURCE_STATUS, MISSING_TOKEN)
        request = HttpRequest(
            method=method,
            path=path[len(stage_prefix) :] or "/",
            stage=self.api.stage,
            query=parse_qsl(split.query, keep_blank_values=True),
            headers=headers,
            body=body,
            source_ip=source_ip,
            host=host,
        )
        return self.api.handle(request)


def _request_handler(server: ApiServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in separate writes; with Nagle on, a keep-alive client waits out the
        # peer's delayed ACK (~40 ms) on every response.
        disable_nagle_algorithm = True

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            try:
                response = server.dispatch(
                    self.command, self.path, list(self.headers.items()), body, self.client_address[0]
                )
            except Exception:  # the gateway itself must answer, whatever went wrong behind it
                log.exception("%s %s failed in the local gateway", self.command, self.path)
                response = HttpResponse.json(HTTPStatus.INTERNAL_SERVER_ERROR, INTERNAL_ERROR)
            self.send_response(response.status)
            for name, value in response.headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _serve

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (BaseHTTPRequestHandler's name)
            log.info("%s %s", self.address_string(), format % args)

    return Handler
