"""Shared fixtures: tiny random models for speed, the bundled encoder for realism, a network guard."""
from __future__ import annotations

import importlib.util
import socket
from pathlib import Path

import pytest

import model_core


@pytest.fixture(scope="session")
def tiny_encoder():
    return model_core.tiny_random("encoder", seed=0)


@pytest.fixture(scope="session")
def tiny_decoder():
    return model_core.tiny_random("decoder", seed=0)


@pytest.fixture(scope="session")
def bundled_encoder():
    return model_core.load_bundled("encoder")


@pytest.fixture(scope="session")
def script():
    """Import a file of scripts/ by name (they are programs, not a package): script("train_decoder")."""

    def load(name: str):
        path = Path(__file__).resolve().parent.parent / "scripts" / f"{name}.py"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a network connection fails the test loudly."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
