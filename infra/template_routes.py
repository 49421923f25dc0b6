"""The API Gateway REST routes and Lambda functions that ``template.yaml`` declares.

`make local-api` serves exactly what the template deploys, so it reads the routes (each
function's ``Type: Api`` events, and the Lambda proxy integrations an API declares in its
``DefinitionBody``, such as the response-streaming ones), the stage, the binary media
types and each function's ``Handler``, ``Timeout`` and ``MemorySize`` from the template
instead of a second list in Python. Routes are matched the way a REST API resolves
resources: a literal path segment wins over ``{param}``, which wins over a greedy
``{proxy+}``; the resource is chosen first and the method second, so a known resource with
an undeclared method matches nothing.

Only the standard library and PyYAML (imported lazily, as in ``table_definition``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from infra.table_definition import DEFAULT_TEMPLATE_PATH

__all__ = [
    "ApiRoute",
    "ApiSpec",
    "FunctionSpec",
    "RouteMatch",
    "load_template_with_intrinsics",
    "read_api",
]

#: SAM's implicit API (events without ``RestApiId``) is deployed to this stage.
IMPLICIT_API_STAGE = "Prod"
#: Lambda's defaults when neither the function nor ``Globals.Function`` sets them.
DEFAULT_TIMEOUT_S = 3
DEFAULT_MEMORY_MB = 128

_LITERAL, _PARAM, _GREEDY = 0, 1, 2


@dataclass(frozen=True)
class FunctionSpec:
    """One ``AWS::Serverless::Function`` that serves at least one API route."""

    logical_id: str
    handler: str
    timeout_s: float
    memory_mb: int
    code_dir: Path
    #: Runs behind the Lambda Web Adapter layer (AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap):
    #: its Handler is a script starting a web server, not ``module.function``.
    web_adapter: bool = False


@dataclass(frozen=True)
class ApiRoute:
    """One route: method and resource path (``{param}``s kept), and the function serving it.

    ``timeout_s`` is the integration's own timeout (``timeoutInMillis``) when it declares
    one; ``streaming`` is a ``responseTransferMode: STREAM`` integration.
    """

    method: str
    path: str
    function_id: str
    stage: str
    timeout_s: float | None = None
    streaming: bool = False

    @property
    def segments(self) -> tuple[str, ...]:
        return _split(self.path)


@dataclass(frozen=True)
class RouteMatch:
    route: ApiRoute
    path_parameters: dict[str, str]


@dataclass(frozen=True)
class GatewayResponse:
    """One of the API's ``GatewayResponses``: how API Gateway answers an error of its own
    (a response type such as ``DEFAULT_4XX``) instead of its default body."""

    status: int | None
    """None keeps the error's own status."""
    headers: Mapping[str, str]
    """Static header values, unquoted."""
    template: str | None
    """The ``application/json`` template, with ``$context`` variables unresolved."""


@dataclass(frozen=True)
class ApiSpec:
    """Everything a local stand-in for API Gateway needs from the template."""

    routes: tuple[ApiRoute, ...]
    functions: Mapping[str, FunctionSpec]
    binary_media_types: tuple[str, ...] = ()
    gateway_responses: Mapping[str, GatewayResponse] = field(default_factory=dict)
    _by_resource: dict[tuple[str, ...], dict[str, ApiRoute]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        for route in self.routes:
            methods = self._by_resource.setdefault(route.segments, {})
            if route.method in methods:
                raise ValueError(f"two events declare {route.method} {route.path}")
            methods[route.method] = route

    def match(self, method: str, raw_path: str) -> RouteMatch | None:
        """The route serving ``method raw_path``, or None (API Gateway's 403).

        Why resource first: API Gateway picks the most specific resource for the path and
        only then looks for the method (or ``ANY``) on it.
        """
        segments = _split(raw_path)
        best: tuple[tuple[int, ...], tuple[str, ...], dict[str, str]] | None = None
        for resource in self._by_resource:
            params = _bind(resource, segments)
            if params is None:
                continue
            rank = tuple(_kind(s) for s in resource)
            if best is None or rank < best[0]:
                best = (rank, resource, params)
        if best is None:
            return None
        methods = self._by_resource[best[1]]
        route = methods.get(method.upper()) or methods.get("ANY")
        return None if route is None else RouteMatch(route, best[2])


def _split(path: str) -> tuple[str, ...]:
    """Path segments; a trailing slash is ignored, as REST APIs do (`/x/` is `/x`)."""
    stripped = path.strip("/")
    return tuple(stripped.split("/")) if stripped else ()


def _kind(segment: str) -> int:
    if segment.startswith("{") and segment.endswith("+}"):
        return _GREEDY
    if segment.startswith("{") and segment.endswith("}"):
        return _PARAM
    return _LITERAL


def _bind(resource: tuple[str, ...], segments: tuple[str, ...]) -> dict[str, str] | None:
    """Path parameters (URL-decoded) if ``segments`` fall under ``resource``, else None."""
    params: dict[str, str] = {}
    for index, part in enumerate(resource):
        kind = _kind(part)
        if kind == _GREEDY:
            rest = segments[index:]
            if not rest or index != len(resource) - 1:
                return None
            params[part[1:-2]] = unquote("/".join(rest))
            return params
        if index >= len(segments) or not segments[index]:
            return None
        if kind == _PARAM:
            params[part[1:-1]] = unquote(segments[index])
        elif unquote(segments[index]) != part:
            return None
    return params if len(segments) == len(resource) else None


def load_template_with_intrinsics(path: str | Path | None = None) -> dict[str, Any]:
    """Load the template, keeping ``!Ref X`` as ``{"Ref": "X"}`` (and ``!Sub`` as ``Fn::Sub``…).

    Why not ``table_definition.load_template``: it drops tags, and a stage name given as
    ``!Ref StageName`` must be told apart from a literal one to be resolved.
    """
    import yaml  # lazy: PyYAML is a local/test dependency, not a runtime one

    class IntrinsicLoader(yaml.SafeLoader):
        """SafeLoader that turns CloudFormation short tags into their long form."""

    def construct(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
        value: Any
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            if suffix == "GetAtt":
                value = str(value).split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        key = suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}"
        return {key: value}

    IntrinsicLoader.add_multi_constructor("!", construct)
    template_path = Path(path) if path is not None else DEFAULT_TEMPLATE_PATH
    with template_path.open(encoding="utf-8") as fh:
        data = yaml.load(fh, Loader=IntrinsicLoader)  # noqa: S506 - SafeLoader subclass
    if not isinstance(data, dict):
        raise ValueError(f"{template_path} is not a YAML mapping")
    return data


def read_api(
    path: str | Path | None = None, parameter_overrides: Mapping[str, str] | None = None
) -> ApiSpec:
    """Read the REST API routes, stages and serving functions from a SAM template."""
    template_path = Path(path) if path is not None else DEFAULT_TEMPLATE_PATH
    template = load_template_with_intrinsics(template_path)
    parameters = _parameter_values(template, parameter_overrides or {})
    resources: dict[str, Any] = template.get("Resources") or {}
    globals_: dict[str, Any] = template.get("Globals") or {}
    function_globals: dict[str, Any] = globals_.get("Function") or {}
    api_globals: dict[str, Any] = globals_.get("Api") or {}

    routes: list[ApiRoute] = []
    functions: dict[str, FunctionSpec] = {}
    for logical_id, resource in resources.items():
        if (resource or {}).get("Type") != "AWS::Serverless::Function":
            continue
        props: dict[str, Any] = resource.get("Properties") or {}
        api_events = [
            event.get("Properties") or {}
            for event in (props.get("Events") or {}).values()
            if (event or {}).get("Type") == "Api"
        ]
        if not api_events:
            continue
        functions[logical_id] = _function(
            logical_id, props, function_globals, parameters, template_path.parent
        )
        for event in api_events:
            routes.append(
                ApiRoute(
                    method=str(_resolve(event["Method"], parameters)).upper(),
                    path="/" + str(_resolve(event["Path"], parameters)).strip("/"),
                    function_id=logical_id,
                    stage=_stage(event.get("RestApiId"), resources, parameters),
                )
            )
    for api_id, resource in resources.items():
        if (resource or {}).get("Type") != "AWS::Serverless::Api":
            continue
        for route in _definition_routes(api_id, resources, parameters):
            if route.function_id not in functions:
                function_props = (resources.get(route.function_id) or {}).get("Properties") or {}
                functions[route.function_id] = _function(
                    route.function_id,
                    function_props,
                    function_globals,
                    parameters,
                    template_path.parent,
                )
            routes.append(route)
    binary = list(api_globals.get("BinaryMediaTypes") or [])
    for resource in resources.values():
        if (resource or {}).get("Type") == "AWS::Serverless::Api":
            binary += (resource.get("Properties") or {}).get("BinaryMediaTypes") or []
    media_types = tuple(
        dict.fromkeys(str(_resolve(t, parameters)).replace("~1", "/") for t in binary)
    )
    return ApiSpec(tuple(routes), functions, media_types, _gateway_responses(resources))


def _gateway_responses(resources: Mapping[str, Any]) -> dict[str, GatewayResponse]:
    """The ``GatewayResponses`` of the template's REST API, by response type."""
    answers: dict[str, GatewayResponse] = {}
    for resource in resources.values():
        if (resource or {}).get("Type") != "AWS::Serverless::Api":
            continue
        declared = (resource.get("Properties") or {}).get("GatewayResponses") or {}
        for kind, spec in declared.items():
            headers = ((spec or {}).get("ResponseParameters") or {}).get("Headers") or {}
            templates = (spec or {}).get("ResponseTemplates") or {}
            status = (spec or {}).get("StatusCode")
            answers[str(kind)] = GatewayResponse(
                status=int(status) if status is not None else None,
                headers={str(k): str(v).strip("'") for k, v in headers.items()},
                template=templates.get("application/json"),
            )
    return answers


#: A Lambda proxy integration's URI names its function as ``${Function.Arn}`` (``!Sub``).
_FUNCTION_ARN = re.compile(r"/functions/\$\{(\w+)\.Arn\}/")


def _definition_routes(
    api_id: str, resources: Mapping[str, Any], parameters: Mapping[str, Any]
) -> list[ApiRoute]:
    """The Lambda proxy routes written in an API's inline ``DefinitionBody`` (OpenAPI)."""
    props: dict[str, Any] = (resources.get(api_id) or {}).get("Properties") or {}
    body = props.get("DefinitionBody")
    if not isinstance(body, dict):
        return []
    stage = _stage({"Ref": api_id}, resources, parameters)
    routes: list[ApiRoute] = []
    for path, operations in (body.get("paths") or {}).items():
        for method, operation in (operations or {}).items():
            integration = (operation or {}).get("x-amazon-apigateway-integration") or {}
            if str(integration.get("type", "")).lower() != "aws_proxy":
                raise ValueError(f"{method.upper()} {path}: only aws_proxy integrations")
            uri = integration.get("uri")
            sub = uri.get("Fn::Sub") if isinstance(uri, dict) else None
            found = _FUNCTION_ARN.search(sub) if isinstance(sub, str) else None
            if found is None or found.group(1) not in resources:
                raise ValueError(f"{method.upper()} {path}: no function of the template in {uri}")
            timeout_ms = integration.get("timeoutInMillis")
            routes.append(
                ApiRoute(
                    method="ANY"
                    if method.lower() == "x-amazon-apigateway-any-method"
                    else method.upper(),
                    path="/" + str(path).strip("/"),
                    function_id=found.group(1),
                    stage=stage,
                    timeout_s=None if timeout_ms is None else int(timeout_ms) / 1000,
                    streaming=integration.get("responseTransferMode") == "STREAM",
                )
            )
    return routes


def _parameter_values(template: dict[str, Any], overrides: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {"AWS::Region": "us-east-1", "AWS::AccountId": "123456789012"}
    for name, spec in (template.get("Parameters") or {}).items():
        if "Default" in (spec or {}):
            values[name] = spec["Default"]
    values.update(overrides)
    return values


def _resolve(value: Any, parameters: Mapping[str, Any]) -> Any:
    """A literal, or a ``Ref`` to a parameter (its default); anything else is an error."""
    if isinstance(value, dict):
        if set(value) == {"Ref"} and value["Ref"] in parameters:
            return parameters[value["Ref"]]
        raise ValueError(f"cannot resolve {value!r} locally")
    return value


def _function(
    logical_id: str,
    props: dict[str, Any],
    function_globals: dict[str, Any],
    parameters: Mapping[str, Any],
    template_dir: Path,
) -> FunctionSpec:
    def prop(name: str, default: Any) -> Any:
        return _resolve(props.get(name, function_globals.get(name, default)), parameters)

    handler = prop("Handler", None)
    env = (props.get("Environment") or {}).get("Variables") or {}
    web_adapter = env.get("AWS_LAMBDA_EXEC_WRAPPER") == "/opt/bootstrap"
    if not isinstance(handler, str) or ("." not in handler and not web_adapter):
        raise ValueError(f"{logical_id} has no Handler of the form module.function")
    code_uri = prop("CodeUri", ".")
    code_dir = (template_dir / (code_uri if isinstance(code_uri, str) else ".")).resolve()
    return FunctionSpec(
        logical_id=logical_id,
        handler=handler,
        timeout_s=float(prop("Timeout", DEFAULT_TIMEOUT_S)),
        memory_mb=int(prop("MemorySize", DEFAULT_MEMORY_MB)),
        code_dir=code_dir,
        web_adapter=web_adapter,
    )


def _stage(rest_api_id: Any, resources: Mapping[str, Any], parameters: Mapping[str, Any]) -> str:
    """The stage the event's API is deployed to (SAM's implicit API: ``Prod``)."""
    if rest_api_id is None:
        return IMPLICIT_API_STAGE
    if not (isinstance(rest_api_id, dict) and set(rest_api_id) == {"Ref"}):
        raise ValueError(f"RestApiId must be a !Ref to an API in the template: {rest_api_id!r}")
    api = resources.get(rest_api_id["Ref"]) or {}
    if api.get("Type") != "AWS::Serverless::Api":
        raise ValueError(f"RestApiId {rest_api_id['Ref']!r} is not an AWS::Serverless::Api")
    return str(_resolve((api.get("Properties") or {})["StageName"], parameters))
