"""moto in server mode, on loopback, in this process: one endpoint every boto3 client and handler shares."""

from __future__ import annotations

import logging
import socket
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
import requests
from moto.server import ThreadedMotoServer

from local_runtime import moto_gaps

REGION = "us-east-1"
# moto accepts any credentials; fixed fake ones keep a developer's real profile out of the way.
WsgiApp = Callable[[dict, Callable], Any]
FAKE_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@dataclass
class MotoEndpoint:
    """Where moto listens, and boto3 clients pointed at it."""

    url: str
    region: str = REGION
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)

    def client(self, service: str) -> Any:
        # One session per client: boto3's default session is not thread-safe to create clients from.
        if service not in self._clients:
            session = boto3.session.Session(region_name=self.region, **FAKE_CREDENTIALS)
            self._clients[service] = session.client(service, endpoint_url=self.url)
        return self._clients[service]

    def account_id(self) -> str:
        return self.client("sts").get_caller_identity()["Account"]

    def reset(self) -> None:
        """Forget every resource: moto's state lives in this process, not in the server thread."""
        requests.post(f"{self.url}/moto-api/reset", timeout=10).raise_for_status()


class MotoServer:
    """A ThreadedMotoServer on 127.0.0.1 (a free port unless one is asked for), with moto_gaps applied."""

    def __init__(self, port: int = 0) -> None:
        self._port = port or free_port()
        self._server: ThreadedMotoServer | None = None
        self.endpoint: MotoEndpoint | None = None

    def start(self) -> MotoEndpoint:
        moto_gaps.apply()
        _quiet_moto()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self._port, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = MotoEndpoint(url=f"http://{host}:{port}")
        return self.endpoint

    def intercept(self, middleware: Callable[[WsgiApp], WsgiApp]) -> None:
        """Puts a WSGI middleware in front of moto (the reliability runs inject AWS faults with one)."""
        if self._server is None or self._server._server is None:
            raise RuntimeError("moto is not started")
        wsgi_server = self._server._server  # ThreadedMotoServer's werkzeug server; it serves `app`
        wsgi_server.app = middleware(wsgi_server.app)

    def stop(self) -> None:
        if self._server is None:
            return
        # moto's backends are process-wide: reset them so a later runtime in this process starts empty.
        if self.endpoint is not None:
            self.endpoint.reset()
        self._server.stop()
        self._server = None


def _quiet_moto() -> None:
    """Werkzeug logs every request, and moto's CloudFormation warns about each resource type it skips;
    deploy.py logs what it fills in instead, which is what a reader needs."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("moto.cloudformation").setLevel(logging.ERROR)
    logging.getLogger("moto").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message="Tried to parse .* not supported by moto", category=UserWarning)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
