"""What the service holds in memory: the layers and everything derived from them, built once at start-up."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from geo.layers import Layers
from services.catalog import Collection, build_collections


@dataclass(frozen=True)
class Service:
    layers: Layers
    collections: dict[str, Collection]

    @classmethod
    def build(cls, layers: Layers) -> Service:
        return cls(layers, build_collections(layers))


def service_of(request: Request) -> Service:
    service: Service = request.app.state.service
    return service
