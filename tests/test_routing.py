"""Lazy routes: a route is built when a request first selects it, and behaves as FastAPI's."""

from __future__ import annotations

import threading
import warnings
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from pydantic import BaseModel
from pydantic.warnings import UnsupportedFieldAttributeWarning

from core.lazy_model import LazyModel
from handler.routing import LazyAPIRoute, add_routes, collection, lazy_router


class Item(BaseModel):
    name: str
    size: int = 1


def greeting() -> str:
    return "hello"


def declare(router: APIRouter) -> APIRouter:
    @collection(router, "GET", response_model=list[Item])
    def list_items(limit: int = 10) -> list[Item]:
        return [Item(name=f"i{n}") for n in range(limit)]

    @collection(router, "POST", response_model=Item)
    def create_item(body: Item) -> Item:
        return body

    @router.get("/{item_id}", response_model=Item)
    def get_item(item_id: str, word: Annotated[str, Depends(greeting)]) -> Item:
        return Item(name=f"{word} {item_id}")

    return router


def lazy_app() -> FastAPI:
    app = FastAPI(redirect_slashes=False)
    add_routes(app, declare(lazy_router("/items", "items")))
    return app


def routes_of(app: FastAPI) -> dict[tuple[str, str], LazyAPIRoute]:
    return {
        (next(iter(route.methods)), route.path): route
        for route in app.routes
        if isinstance(route, LazyAPIRoute)
    }


def test_a_request_builds_only_the_route_it_selects() -> None:
    app = lazy_app()
    routes = routes_of(app)
    assert len(routes) == 5 and not any(route.built for route in routes.values())

    answer = TestClient(app).get("/items/", params={"limit": 2})

    assert answer.status_code == 200
    assert answer.json() == [{"name": "i0", "size": 1}, {"name": "i1", "size": 1}]
    built = {key for key, route in routes.items() if route.built}
    assert built == {("GET", "/items/")}  # not POST /items/, though its path matched too


def eager_app() -> FastAPI:
    app = FastAPI(redirect_slashes=False)
    app.include_router(declare(APIRouter(prefix="/items", tags=["items"])))
    return app


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/items/7", None),
        ("GET", "/items", None),
        ("POST", "/items", {"name": "n", "size": 3}),
        ("POST", "/items/", {"size": "big"}),  # 422
        ("DELETE", "/items/", None),  # 405
        ("PUT", "/items/7", None),  # 405
        ("GET", "/nothing", None),  # 404
    ],
)
def test_lazy_routes_answer_as_fastapi_routes_do(
    method: str, path: str, body: dict[str, Any] | None
) -> None:
    lazy = TestClient(lazy_app()).request(method, path, json=body)
    eager = TestClient(eager_app()).request(method, path, json=body)
    assert (lazy.status_code, lazy.json(), lazy.headers.get("allow")) == (
        eager.status_code,
        eager.json(),
        eager.headers.get("allow"),
    )
    assert lazy.status_code in {200, 404, 405, 422}


def test_the_openapi_document_is_the_one_fastapi_makes_from_built_routes() -> None:
    lazy = lazy_app()
    assert lazy.openapi() == eager_app().openapi()
    assert all(route.built for route in routes_of(lazy).values() if route.include_in_schema)


def test_dependency_overrides_reach_lazy_routes() -> None:
    app = lazy_app()
    app.dependency_overrides[greeting] = lambda: "hi"
    assert TestClient(app).get("/items/x").json()["name"] == "hi x"


def test_threads_arriving_together_build_a_route_once(monkeypatch: pytest.MonkeyPatch) -> None:
    builds: list[str] = []
    real_init = APIRoute.__init__

    def counting_init(self: APIRoute, path: str, *args: Any, **kwargs: Any) -> None:
        builds.append(path)
        real_init(self, path, *args, **kwargs)

    monkeypatch.setattr(APIRoute, "__init__", counting_init)
    route = routes_of(lazy_app())[("GET", "/items/{item_id}")]
    start = threading.Barrier(8)

    def build() -> None:
        start.wait()
        assert route.response_model is Item  # reading what the build makes builds it

    threads = [threading.Thread(target=build) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert builds == ["/items/{item_id}"]


def test_only_lazy_routes_can_be_added() -> None:
    eager = APIRouter(prefix="/eager")
    eager.add_api_route("/", greeting)
    with pytest.raises(TypeError, match="lazy_router"):
        add_routes(FastAPI(), eager)


class DeferredItem(LazyModel):
    name: str


def test_a_deferred_body_model_builds_without_pydantic_warnings() -> None:
    """FastAPI silences a pydantic warning while it builds field validators; a deferred
    model's validator must be finished inside that silence too, not on first use."""
    router = lazy_router("/deferred", "deferred")

    @router.post("/", response_model=DeferredItem)
    def echo(body: DeferredItem) -> DeferredItem:
        return body

    app = FastAPI()
    add_routes(app, router)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        answer = TestClient(app).post("/deferred/", json={"name": "x"})
    assert answer.json() == {"name": "x"}
    assert [w for w in caught if issubclass(w.category, UnsupportedFieldAttributeWarning)] == []
