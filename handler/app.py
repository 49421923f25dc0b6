"""The FastAPI application: routers, error mapping, and the services it runs on.

Creating it builds no route and makes no service: each is built or made when first used
(handler/routing.py, handler/composition.py), so a cold start pays for its first request.
"""

from __future__ import annotations

from fastapi import FastAPI

from handler.auth import AuthenticateFirst
from handler.composition import Services, build_services
from handler.deps import authenticate
from handler.errors import install_error_handlers
from handler.json_default import DefaultJsonContentType
from handler.openapi import install_openapi
from handler.request_limits import RequestLimits
from handler.routes import agents, blocks, group_messages, groups, health, runs
from handler.routing import TrailingSlashOptional, add_routes
from infra.settings import get_settings


def create_app(services: Services | None = None) -> FastAPI:
    """Build the app; without explicit services they are built from the environment."""
    app = FastAPI(
        title="letta-groups-serverless",
        version=get_settings().service_version,
        redirect_slashes=False,
    )
    app.state.services = services or build_services(get_settings())
    install_error_handlers(app)
    install_openapi(app)
    app.add_middleware(DefaultJsonContentType)
    app.add_middleware(TrailingSlashOptional)
    app.add_middleware(RequestLimits, authenticate=authenticate)
    # Added last, so it runs first: a request without a valid key reads nothing but headers.
    app.add_middleware(AuthenticateFirst)
    for module in (agents, blocks, groups, group_messages, health, runs):
        add_routes(app, module.router)
    return app
