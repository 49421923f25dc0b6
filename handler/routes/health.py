"""/v1/health route."""

from __future__ import annotations

from core.lazy_model import LazyModel
from handler.deps import ServicesDep
from handler.routing import collection, lazy_router

router = lazy_router("/v1/health", "health")


class Health(LazyModel):
    version: str
    status: str


@collection(router, "GET", response_model=Health)
def check_health(services: ServicesDep) -> Health:
    return Health(version=services.settings.service_version, status="ok")
