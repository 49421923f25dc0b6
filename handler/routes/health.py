"""/v1/health route."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from handler.deps import ServicesDep
from handler.routing import collection

router = APIRouter(prefix="/v1/health", tags=["health"])


class Health(BaseModel):
    version: str
    status: str


@collection(router, "GET", response_model=Health)
def check_health(services: ServicesDep) -> Health:
    return Health(version=services.settings.service_version, status="ok")
