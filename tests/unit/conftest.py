"""Unit tests run with the network blocked: any socket connection fails the test."""

import socket

import pytest


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    def refuse(self, address, *args, **kwargs):
        if self.family == socket.AF_UNIX:
            return original(self, address, *args, **kwargs)
        raise RuntimeError(f"unit tests must not use the network (tried {address!r})")

    original = socket.socket.connect
    monkeypatch.setattr(socket.socket, "connect", refuse)
