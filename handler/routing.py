"""Route helpers: trailing-slash spellings, and routes built on first use.

Collection routes answer with and without Letta's trailing slash. Every route is a
`LazyAPIRoute`: FastAPI builds a route's parameter, body and response schemas when it is
declared, about 5 ms a route here, and a cold start should pay only for the routes its
first request selects.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from pydantic import TypeAdapter
from pydantic.warnings import UnsupportedFieldAttributeWarning
from starlette.routing import Match, Route, compile_path, get_name
from starlette.types import ASGIApp, Receive, Scope, Send

F = Callable[..., Any]

_BUILDING = threading.RLock()
"""Held while any route builds, one at a time: the build silences a pydantic warning with
`warnings.catch_warnings`, which swaps the process's filters and is not thread-safe."""


class LazyAPIRoute(APIRoute):
    """An `APIRoute` that keeps its arguments and builds itself (dependant, body and
    response fields) when a request first selects it or something first reads what the
    build makes (the OpenAPI document). Path, methods and name are known at once, so
    matching, `url_path_for` and route listings cost nothing."""

    _built = False
    _building = False

    def __init__(self, path: str, endpoint: F, **options: Any) -> None:
        self._options = options
        self.path = path
        self.endpoint = endpoint
        name = options.get("name")
        self.name = name if name is not None else get_name(endpoint)
        methods = options.get("methods")
        self.methods = {method.upper() for method in (["GET"] if methods is None else methods)}
        self.include_in_schema = bool(options.get("include_in_schema", True))
        self.path_regex, self.path_format, self.param_convertors = compile_path(path)

    @property
    def built(self) -> bool:
        """Whether the route has been built (a request selected it, or the schema read it)."""
        return self._built

    @property
    def options(self) -> dict[str, Any]:
        """The keyword arguments `APIRouter.add_api_route` gave this route."""
        return dict(self._options)

    def build(self) -> None:
        """Run `APIRoute.__init__` once; a thread that arrives meanwhile waits for it."""
        with _BUILDING:
            if self._built or self._building:
                return
            self._building = True
            try:
                APIRoute.__init__(self, self.path, self.endpoint, **self._options)
                _complete_model_fields(self)
            finally:
                self._building = False
            self._built = True

    def __getattr__(self, name: str) -> Any:
        # Called only for attributes not set yet: everything the build makes.
        if name.startswith("__") or name == "_options":
            raise AttributeError(name)
        self.build()
        if not self._built:  # read by the build itself, before it set it
            raise AttributeError(name)
        return object.__getattribute__(self, name)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if self._built:
            return super().matches(scope)
        match, child_scope = Route.matches(self, scope)
        if match is Match.FULL:
            self.build()
            return super().matches(scope)
        if match is Match.PARTIAL:  # same path, other method: 405 unless another matches
            child_scope["route"] = self
        return match, child_scope

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.build()
        await super().handle(scope, receive, send)


def _complete_model_fields(route: APIRoute) -> None:
    """Finish the validators of the route's body and response now, as FastAPI would.

    FastAPI makes one `TypeAdapter` per field while ignoring pydantic's
    UnsupportedFieldAttributeWarning (its field metadata rides along). For a model with
    `defer_build` (core.lazy_model) the adapter waits for its first use, outside that
    filter, and the warning escapes on the first request. The route is being used now, so
    nothing is gained by waiting.
    """
    fields = [route.body_field, route.response_field, *route.response_fields.values()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnsupportedFieldAttributeWarning)
        for field in fields:
            adapter = getattr(field, "_type_adapter", None)  # fastapi._compat.v2.ModelField
            if isinstance(adapter, TypeAdapter):
                adapter.rebuild()


def lazy_router(prefix: str, tag: str) -> APIRouter:
    """A router for one path prefix whose routes are `LazyAPIRoute`s."""
    return APIRouter(prefix=prefix, tags=[tag], route_class=LazyAPIRoute)


def add_routes(app: FastAPI, router: APIRouter) -> None:
    """Put `router`'s routes on the app's own router, still unbuilt.

    `include_router` would keep the router as an included branch that builds all of its
    routes again, per inclusion, on the first request that reaches it.
    """
    for route in router.routes:
        if not isinstance(route, LazyAPIRoute):
            raise TypeError(f"{route!r} is not a LazyAPIRoute; declare it with lazy_router()")
        options = route.options
        options.pop("dependency_overrides_provider", None)  # the app's router sets its own
        app.router.add_api_route(
            route.path, route.endpoint, route_class_override=LazyAPIRoute, **options
        )


def collection(router: APIRouter, method: str, **kwargs: Any) -> Callable[[F], F]:
    """Register `prefix/` (Letta's spelling, in the schema) and `prefix` for one endpoint.

    Serving both directly avoids the 307 redirect that breaks behind an API Gateway stage.
    """

    def register(endpoint: F) -> F:
        router.add_api_route("/", endpoint, methods=[method], **kwargs)
        router.add_api_route("", endpoint, methods=[method], include_in_schema=False, **kwargs)
        return endpoint

    return register


class TrailingSlashOptional:
    """Route `/v1/agents/{id}/` as `/v1/agents/{id}`: item routes answer the same with or
    without a trailing slash, as collection routes do (no 307, which breaks behind an API
    Gateway stage)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and len(path) > 1 and path.endswith("/"):
            scope = {**scope, "path": path.rstrip("/") or "/"}
        await self.app(scope, receive, send)
