"""`make local-api`: template.yaml's REST API, served locally through the real Lambda entry.

A Docker-free stand-in for `sam local start-api`. It reads the routes (each function's
``Type: Api`` events and the integrations in the API's ``DefinitionBody``), stages and
binary media types from the template, imports each routed function's ``Handler``, and for
every request builds the API Gateway REST (payload 1.0) proxy event and a Lambda context,
invokes the handler in a worker thread, and turns its proxy response back into HTTP. What
API Gateway and Lambda would refuse is refused here with the gateway's own answers (see
``GatewayAnswer``): unknown routes, bodies over 10 MB, events over Lambda's 6 MB,
integrations slower than 29 s (or their own ``timeoutInMillis``), responses over 6 MB.

Settings and store are `make run`'s (``handler.local.local_store``): the SQLite file
unless AWS_ENDPOINT_URL_DYNAMODB is set. The template's own environment block is not
applied, as under `make run` (e.g. RUN_LAUNCHER stays `threads`).

The stream routes belong to StreamFunction, which runs the same app behind the Lambda Web
Adapter (a ``run.sh`` Handler, no Python one) with response streaming. Here, as the adapter
does, the checked event is turned back into an HTTP request to that app
(``WEB_ADAPTER_LOCAL_APP``, the very app object of the Lambda entry) and its response body is
passed on chunk by chunk as the app writes it, within the route's own integration timeout
(``timeoutInMillis``, 15 min) and the function's Timeout instead of 29 s.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import importlib
import json
import logging
import os
import secrets
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from infra.template_routes import ApiSpec, FunctionSpec, GatewayResponse, RouteMatch, read_api

logger = logging.getLogger("local_api")

LambdaHandler = Callable[[dict[str, Any], Any], Any]

#: What serves a Lambda Web Adapter function's routes locally: the app the adapter forwards
#: to (``handler.stream_entry`` serves ``create_app()``); the Lambda entry's own instance, so
#: both functions share one set of services, as they share one table when deployed.
WEB_ADAPTER_LOCAL_APP = "handler.lambda_entry.app"

#: API Gateway REST: integration timeout (default quota) and maximum payload.
GATEWAY_TIMEOUT_S = 29.0
MAX_REQUEST_BYTES = 10 * 1024 * 1024
#: Lambda synchronous invocation payload limits: the request ("Request must be smaller
#: than 6291456 bytes for the InvokeFunction operation") and the response ("Response
#: payload size exceeded maximum allowed payload size (6291556 bytes)").
LAMBDA_MAX_EVENT_BYTES = 6_291_456
LAMBDA_MAX_RESPONSE_BYTES = 6_291_556

ACCOUNT_ID = "123456789012"
API_ID = "1234567890"  # the id `sam local start-api` puts in requestContext too


@dataclass(frozen=True)
class GatewayAnswer:
    """A response API Gateway itself gives, the function never seeing (or not answering).

    Bodies and headers are byte-for-byte what deployed REST APIs return, as captured in
    public bug reports and write-ups (AWS documents the response types and status codes
    in "Gateway response types for API Gateway", not the default bodies).
    """

    status: int
    body: bytes
    error_type: str | None = None  # x-amzn-ErrorType
    content_type: str = "application/json"
    response_type: str | None = None
    """The gateway response type a template's ``GatewayResponses`` can change (then also
    ``DEFAULT_4XX``/``DEFAULT_5XX``); None for answers given before API Gateway proper."""


#: MISSING_AUTHENTICATION_TOKEN: a path or method the API does not declare.
MISSING_AUTHENTICATION_TOKEN = GatewayAnswer(
    403,
    b'{"message":"Missing Authentication Token"}',
    "MissingAuthenticationTokenException",
    response_type="MISSING_AUTHENTICATION_TOKEN",
)
#: A body over 10 MB is refused before the API is even resolved: plain text, no request id.
CONTENT_LENGTH_EXCEEDED = GatewayAnswer(
    413, b"HTTP content length exceeded 10485760 bytes.", None, "text; charset=utf-8"
)
#: A body within 10 MB whose event is over Lambda's 6 MB request limit (REQUEST_TOO_LARGE).
REQUEST_TOO_LONG = GatewayAnswer(
    413,
    b'{"message": "Request Too Long"}',
    "BadRequestException",
    response_type="REQUEST_TOO_LARGE",
)
#: INTEGRATION_TIMEOUT: the function did not answer within the integration timeout.
ENDPOINT_TIMED_OUT = GatewayAnswer(
    504,
    b'{"message": "Endpoint request timed out"}',
    "InternalServerErrorException",
    response_type="INTEGRATION_TIMEOUT",
)
#: The function failed, timed out itself, or answered too much or malformed.
INTERNAL_SERVER_ERROR = GatewayAnswer(
    502,
    b'{"message": "Internal server error"}',
    "InternalServerErrorException",
    response_type="DEFAULT_5XX",
)
#: API_CONFIGURATION_ERROR: e.g. a binary response whose base64 body does not decode.
API_CONFIGURATION_ERROR = GatewayAnswer(
    500,
    b'{"message": "Internal server error"}',
    "InternalServerErrorException",
    response_type="API_CONFIGURATION_ERROR",
)


@dataclass(frozen=True)
class AdaptedApp:
    """A Lambda Web Adapter function: the web app the adapter forwards each event to, as an
    HTTP request, streaming the response back (``AWS_LWA_INVOKE_MODE=response_stream``)."""

    app: ASGIApp


Target = LambdaHandler | AdaptedApp
"""What serves a function's routes: a Lambda handler, or the app behind the adapter."""


@dataclass
class LocalLambdaContext:
    """The Lambda context object: what Powertools and Mangum read from a real one."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str
    deadline: float  # time.monotonic() at which Lambda would stop the function
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""
    identity: Any = None
    client_context: Any = None

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


@dataclass
class _Response:
    status: int
    body: bytes
    headers: list[tuple[str, str]] = field(default_factory=list)


class LocalRestApi:
    """An ASGI app behaving as an API Gateway REST API with Lambda proxy integrations.

    Limits are constructor parameters so tests can use small ones (a 0.5 s timeout).
    """

    def __init__(
        self,
        spec: ApiSpec,
        handlers: Mapping[str, Target],
        *,
        gateway_timeout_s: float = GATEWAY_TIMEOUT_S,
        max_request_bytes: int = MAX_REQUEST_BYTES,
        max_event_bytes: int = LAMBDA_MAX_EVENT_BYTES,
        max_response_bytes: int = LAMBDA_MAX_RESPONSE_BYTES,
        max_concurrency: int = 32,
        region: str = "us-east-1",
    ) -> None:
        missing = set(spec.functions) - set(handlers)
        if missing:
            raise ValueError(f"no handler for {sorted(missing)}")
        self.spec = spec
        self.handlers = dict(handlers)
        self.gateway_timeout_s = gateway_timeout_s
        self.max_request_bytes = max_request_bytes
        self.max_event_bytes = max_event_bytes
        self.max_response_bytes = max_response_bytes
        self.region = region
        # One thread per concurrent invocation, like one Lambda execution environment each;
        # a function still running past the gateway's timeout keeps its thread.
        self._loops: list[asyncio.AbstractEventLoop] = []
        self._executor = ThreadPoolExecutor(
            max_concurrency, thread_name_prefix="lambda", initializer=self._new_event_loop
        )

    def _gateway(self, answer: GatewayAnswer, request_id: str) -> _Response:
        """An answer of API Gateway's own, shaped by the template's GatewayResponses."""
        return _answer(answer, request_id, self.spec.gateway_responses)

    def _new_event_loop(self) -> None:
        """Worker threads get an event loop, as Lambda's main thread has (Mangum needs one);
        it lives as long as the thread, as a Lambda environment's loop between invocations."""
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loops.append(loop)

    def _close_idle_loops(self) -> None:
        """Cancel what idle worker loops still hold (sse-starlette's watcher) and close them,
        so shutting down prints no "Task was destroyed but it is pending"."""
        for loop in self._loops:
            if loop.is_running() or loop.is_closed():
                continue  # a function past the gateway's timeout: left to finish
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._serve(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self._executor.shutdown(wait=False, cancel_futures=True)
                # In another thread: no second loop may run while the server's loop runs.
                await asyncio.to_thread(self._close_idle_loops)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.monotonic()
        request_id = str(uuid.uuid4())
        body = await self._read_body(scope, receive)
        if body is None:
            return await _send(send, _answer(CONTENT_LENGTH_EXCEEDED, None))
        method: str = scope["method"]
        raw_path = _raw_path(scope)
        match = self.spec.match(method, raw_path)
        if match is None:
            return await _send(send, self._gateway(MISSING_AUTHENTICATION_TOKEN, request_id))
        event = self.build_event(scope, match, raw_path, body, request_id)
        event_size = len(json.dumps(event).encode())
        if event_size > self.max_event_bytes:
            logger.warning(
                "413: the Lambda event is %d bytes, over Lambda's %d-byte request limit",
                event_size,
                self.max_event_bytes,
            )
            return await _send(send, self._gateway(REQUEST_TOO_LONG, request_id))
        function = self.spec.functions[match.route.function_id]
        gateway_timeout_s = match.route.timeout_s or self.gateway_timeout_s
        target = self.handlers[function.logical_id]
        if isinstance(target, AdaptedApp):
            time_left = min(gateway_timeout_s - (time.monotonic() - started), function.timeout_s)
            return await self._stream(target, function, event, request_id, time_left, receive, send)
        result = await self._invoke(function, event, request_id, started, gateway_timeout_s)
        if isinstance(result, GatewayAnswer):
            return await _send(send, self._gateway(result, request_id))
        accept = next((v for k, v in event["headers"].items() if k.lower() == "accept"), None)
        await _send(send, self._proxy_response(function, result, request_id, accept))

    async def _stream(
        self,
        target: AdaptedApp,
        function: FunctionSpec,
        event: dict[str, Any],
        request_id: str,
        time_left: float,
        receive: Receive,
        send: Send,
    ) -> None:
        """Forward the event to the adapter's app as HTTP and pass its response on as it is
        written. Nothing started by the deadline: the gateway's 504 (or 502 when the
        function's own Timeout came first); started: the stream ends there, as when Lambda
        stops a streaming function."""
        body = base64.b64decode(event["body"]) if event["isBase64Encoded"] else None
        pending = [body if body is not None else (event["body"] or "").encode("utf-8")]
        started = False

        async def app_receive() -> Message:
            if pending:
                return {"type": "http.request", "body": pending.pop(), "more_body": False}
            return await receive()  # the body is read: this waits for the client to go

        async def app_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                gateway = [(k.encode(), v.encode()) for k, v in _gateway_headers(request_id)]
                message = {**message, "headers": [*message.get("headers", []), *gateway]}
            await send(message)

        try:
            await asyncio.wait_for(
                target.app(adapter_scope(event), app_receive, app_send), max(0.0, time_left)
            )
        except TimeoutError:
            if started:
                logger.error("%s: the stream was cut at its time limit", function.logical_id)
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            late = function.timeout_s <= time_left
            await _send(
                send,
                self._gateway(INTERNAL_SERVER_ERROR if late else ENDPOINT_TIMED_OUT, request_id),
            )
        except Exception:
            logger.exception("502: %s raised (a Lambda function error)", function.logical_id)
            if not started:
                await _send(send, self._gateway(INTERNAL_SERVER_ERROR, request_id))

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes | None:
        """The request body, or None when over the gateway's limit (the rest is drained)."""
        declared = next((v for k, v in scope["headers"] if k.lower() == b"content-length"), b"")
        too_large = declared.isdigit() and int(declared) > self.max_request_bytes
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message: Message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            too_large = too_large or size > self.max_request_bytes
            if not too_large:
                chunks.append(chunk)
            more = message.get("more_body", False)
        return None if too_large else b"".join(chunks)

    def build_event(
        self, scope: Scope, match: RouteMatch, raw_path: str, body: bytes, request_id: str
    ) -> dict[str, Any]:
        """The REST API (payload format 1.0) proxy event for this request.

        As a REST API delivers it: `path` still percent-encoded and without the stage (the
        stage is in `requestContext.path`), path parameters and query values decoded,
        `headers` the last value of each, nulls where there is nothing.
        """
        route = match.route
        client_ip = (scope.get("client") or ("127.0.0.1", 0))[0]
        server_port = (scope.get("server") or ("127.0.0.1", 80))[1]
        now = datetime.now(UTC)
        trace_id = f"Root=1-{int(now.timestamp()):08x}-{secrets.token_hex(12)}"
        multi_headers: dict[str, list[str]] = {}
        for raw_name, raw_value in scope["headers"]:
            name, value = raw_name.decode("latin-1"), raw_value.decode("latin-1")
            multi_headers.setdefault(name, []).append(value)
        forwarded_for = [
            v for k, vs in multi_headers.items() if k.lower() == "x-forwarded-for" for v in vs
        ]
        for name in list(multi_headers):
            if name.lower() in ("x-forwarded-for", "x-forwarded-port", "x-forwarded-proto"):
                del multi_headers[name]
        multi_headers["X-Forwarded-For"] = [", ".join([*forwarded_for, client_ip])]
        multi_headers["X-Forwarded-Port"] = [str(server_port)]
        multi_headers["X-Forwarded-Proto"] = [scope.get("scheme", "http")]
        if not any(k.lower() == "x-amzn-trace-id" for k in multi_headers):
            multi_headers["X-Amzn-Trace-Id"] = [trace_id]
        headers = {name: values[-1] for name, values in multi_headers.items()}
        lower = {k.lower(): v for k, v in headers.items()}

        multi_query: dict[str, list[str]] = {}
        for key, value in parse_qsl(
            scope.get("query_string", b"").decode(), keep_blank_values=True
        ):
            multi_query.setdefault(key, []).append(value)

        encoded_body, is_base64 = self._event_body(body, lower.get("content-type"))
        host = lower.get("host", "localhost")
        return {
            "resource": route.path,
            "path": raw_path,
            "httpMethod": scope["method"],
            "headers": headers,
            "multiValueHeaders": multi_headers,
            "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": match.path_parameters or None,
            "stageVariables": None,
            "requestContext": {
                "accountId": ACCOUNT_ID,
                "apiId": API_ID,
                "resourceId": secrets.token_hex(3),
                "resourcePath": route.path,
                "httpMethod": scope["method"],
                "extendedRequestId": secrets.token_urlsafe(12),
                "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "requestTimeEpoch": int(now.timestamp() * 1000),
                "path": f"/{route.stage}{raw_path}",
                "stage": route.stage,
                "domainName": host,
                "domainPrefix": host.split(".", 1)[0],
                "protocol": f"HTTP/{scope.get('http_version', '1.1')}",
                "requestId": request_id,
                "identity": {
                    "sourceIp": client_ip,
                    "userAgent": lower.get("user-agent"),
                    "accountId": None,
                    "apiKey": None,
                    "apiKeyId": None,
                    "caller": None,
                    "cognitoAuthenticationProvider": None,
                    "cognitoAuthenticationType": None,
                    "cognitoIdentityId": None,
                    "cognitoIdentityPoolId": None,
                    "principalOrgId": None,
                    "user": None,
                    "userArn": None,
                    "accessKey": None,
                },
            },
            "body": encoded_body,
            "isBase64Encoded": is_base64,
        }

    def _event_body(self, body: bytes, content_type: str | None) -> tuple[str | None, bool]:
        """Text as is; base64 for the API's binary media types and for non-UTF-8 bytes.

        API Gateway base64-encodes only the declared binary media types and would mangle
        other non-UTF-8 bodies; here they are base64-encoded so they arrive intact.
        """
        if not body:
            return None, False
        if not _is_binary(content_type, self.spec.binary_media_types):
            try:
                return body.decode("utf-8"), False
            except UnicodeDecodeError:
                pass
        return base64.b64encode(body).decode("ascii"), True

    async def _invoke(
        self,
        function: FunctionSpec,
        event: dict[str, Any],
        request_id: str,
        started: float,
        gateway_timeout_s: float,
    ) -> Any:
        """The handler's result, or the gateway's answer when it fails or takes too long."""
        invoked = time.monotonic()
        context = LocalLambdaContext(
            function_name=function.logical_id,
            memory_limit_in_mb=function.memory_mb,
            invoked_function_arn=(
                f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{function.logical_id}"
            ),
            aws_request_id=str(uuid.uuid4()),
            deadline=invoked + function.timeout_s,
            log_group_name=f"/aws/lambda/{function.logical_id}",
            log_stream_name=f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}",
        )
        handler = self.handlers[function.logical_id]
        future = self._executor.submit(handler, event, context)
        gateway_left = gateway_timeout_s - (invoked - started)
        waited = asyncio.wrap_future(future)
        done, _ = await asyncio.wait(
            {waited}, timeout=max(0.0, min(gateway_left, function.timeout_s))
        )
        if not done:
            waited.cancel()  # nobody waits any more; a still-queued invocation never starts
            future.add_done_callback(_log_late_end(function.logical_id, request_id))
            if function.timeout_s < gateway_left:
                logger.error(
                    "502: %s timed out after %.2f seconds (its Timeout); Lambda would stop it, "
                    "here its thread runs on",
                    function.logical_id,
                    function.timeout_s,
                )
                return INTERNAL_SERVER_ERROR
            logger.error(
                "504: %s did not answer %s within the gateway's %.1f s; the function may still "
                "be running",
                function.logical_id,
                request_id,
                gateway_timeout_s,
            )
            return ENDPOINT_TIMED_OUT
        try:
            return future.result()
        except Exception:
            logger.exception("502: %s raised (a Lambda function error)", function.logical_id)
            return INTERNAL_SERVER_ERROR

    def _proxy_response(
        self, function: FunctionSpec, result: Any, request_id: str, accept: str | None
    ) -> _Response:
        """HTTP from a Lambda proxy response, as API Gateway reads it (or its 502)."""
        try:
            size = len(json.dumps(result).encode())
        except (TypeError, ValueError):
            logger.error("502: %s returned a value Lambda cannot serialize", function.logical_id)
            return self._gateway(INTERNAL_SERVER_ERROR, request_id)
        if size > self.max_response_bytes:
            logger.error(
                "502: %s's response is %d bytes, over Lambda's %d-byte response limit "
                "(Response payload size exceeded maximum allowed payload size)",
                function.logical_id,
                size,
                self.max_response_bytes,
            )
            return self._gateway(INTERNAL_SERVER_ERROR, request_id)
        problem = _malformed(result)
        if problem:
            logger.error(
                "502: Malformed Lambda proxy response from %s: %s", function.logical_id, problem
            )
            return self._gateway(INTERNAL_SERVER_ERROR, request_id)

        body_text: str = result.get("body") or ""
        body = body_text.encode("utf-8")
        if result.get("isBase64Encoded") and _is_binary(
            _first(accept), self.spec.binary_media_types
        ):
            try:
                body = base64.b64decode(body_text, validate=True)
            except binascii.Error:
                logger.error("500: %s's base64 body does not decode", function.logical_id)
                return self._gateway(API_CONFIGURATION_ERROR, request_id)
        # else: API Gateway passes a base64 body through as text unless the client's first
        # Accept type is one of the API's binary media types.

        headers: list[tuple[str, str]] = []
        multi: Mapping[str, list[str]] = result.get("multiValueHeaders") or {}
        single: Mapping[str, str] = result.get("headers") or {}
        for name in dict.fromkeys([*multi, *single]):
            values = list(multi.get(name, []))
            if name in single and single[name] not in values:
                values.append(single[name])
            if name.lower() in ("content-length", "transfer-encoding", "connection"):
                continue  # recomputed for the body actually sent
            headers.extend((name, str(v)) for v in values)
        if not any(name.lower() == "content-type" for name, _ in headers):
            headers.append(("Content-Type", "application/json"))
        headers.extend(_gateway_headers(request_id))
        return _Response(int(result["statusCode"]), body, headers)


def adapter_scope(event: dict[str, Any]) -> Scope:
    """The HTTP request the Lambda Web Adapter makes of a REST proxy event: the path without
    the stage, every header and query value, and the request context as the
    ``x-amzn-request-context`` header."""
    headers = [
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, values in (event.get("multiValueHeaders") or {}).items()
        for value in values
    ]
    context = event["requestContext"]
    headers.append((b"x-amzn-request-context", json.dumps(context).encode()))
    query = [
        (key, value)
        for key, values in (event.get("multiValueQueryStringParameters") or {}).items()
        for value in values
    ]
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": event["httpMethod"],
        "scheme": "http",
        "path": unquote(event["path"]),
        "raw_path": event["path"].encode(),
        "query_string": urlencode(query).encode(),
        "root_path": "",
        "headers": headers,
        "client": (context["identity"]["sourceIp"], 0),
        "server": ("127.0.0.1", 8080),
    }


def _malformed(result: Any) -> str | None:
    if not isinstance(result, dict):
        return f"expected an object, got {type(result).__name__}"
    status = result.get("statusCode")
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        return f"statusCode {status!r} is not an HTTP status"
    if not isinstance(result.get("body") or "", str):
        return "body is not a string"
    headers = result.get("headers") or {}
    multi = result.get("multiValueHeaders") or {}
    if not isinstance(headers, dict) or not isinstance(multi, dict):
        return "headers are not objects"
    if not all(isinstance(v, list) for v in multi.values()):
        return "multiValueHeaders values are not lists"
    return None


def _is_binary(content_type: str | None, binary_media_types: tuple[str, ...]) -> bool:
    """Whether a media type is one of the API's binary media types (``*`` wildcards)."""
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    kind, _, sub = media.partition("/")
    for pattern in binary_media_types:
        p_kind, _, p_sub = pattern.lower().partition("/")
        if p_kind in ("*", kind) and p_sub in ("*", sub):
            return True
    return False


def _first(accept: str | None) -> str | None:
    """API Gateway looks at the first type of the Accept header only."""
    return accept.split(",", 1)[0] if accept else None


def _raw_path(scope: Scope) -> str:
    raw: bytes | None = scope.get("raw_path")
    if raw:
        return raw.decode("latin-1").split("?", 1)[0]
    return quote(scope["path"])


def _gateway_headers(request_id: str) -> list[tuple[str, str]]:
    return [
        ("x-amzn-RequestId", request_id),
        ("x-amz-apigw-id", base64.b64encode(secrets.token_bytes(11)).decode()[:15] + "="),
    ]


def _answer(
    answer: GatewayAnswer,
    request_id: str | None,
    responses: Mapping[str, GatewayResponse] | None = None,
) -> _Response:
    """The gateway's answer, as the template's ``GatewayResponses`` shape it (the response
    type's own entry, else DEFAULT_4XX/DEFAULT_5XX), or API Gateway's default."""
    status, body, content_type = answer.status, answer.body, answer.content_type
    extra: list[tuple[str, str]] = []
    shaped = _gateway_response(answer, responses or {})
    if shaped is not None and shaped.template is not None and request_id is not None:
        status = shaped.status or status
        body = _render(shaped.template, answer, request_id).encode()
        content_type = shaped.headers.get("Content-Type", content_type)
        extra = [(k, v) for k, v in shaped.headers.items() if k != "Content-Type"]
    headers = [("Content-Type", content_type), *extra]
    if request_id is not None:
        headers += _gateway_headers(request_id)
    if answer.error_type:
        headers.append(("x-amzn-ErrorType", answer.error_type))
    return _Response(status, body, headers)


def _gateway_response(
    answer: GatewayAnswer, responses: Mapping[str, GatewayResponse]
) -> GatewayResponse | None:
    if answer.response_type is None:
        return None
    default = "DEFAULT_4XX" if answer.status < 500 else "DEFAULT_5XX"
    return responses.get(answer.response_type) or responses.get(default)


def _render(template: str, answer: GatewayAnswer, request_id: str) -> str:
    """A response template with the ``$context`` variables API Gateway fills in."""
    message = json.loads(answer.body).get("message", "")
    return (
        template.replace("$context.error.messageString", json.dumps(message))
        .replace("$context.error.responseType", answer.response_type or "")
        .replace("$context.requestId", request_id)
    )


async def _send(send: Send, response: _Response) -> None:
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
    headers.append((b"content-length", str(len(response.body)).encode()))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})


def _log_late_end(function_id: str, request_id: str) -> Callable[[Future[Any]], None]:
    def log(future: Future[Any]) -> None:
        error = future.exception() if not future.cancelled() else None
        logger.warning(
            "%s finished request %s after the gateway had answered%s",
            function_id,
            request_id,
            f" (it raised {error!r})" if error else "",
        )

    return log


def import_handlers(spec: ApiSpec) -> dict[str, Target]:
    """Import each routed function's ``Handler`` (``module.function``) from its CodeUri;
    for a Lambda Web Adapter function, the app it forwards to (``WEB_ADAPTER_LOCAL_APP``)."""
    handlers: dict[str, Target] = {}
    for function in spec.functions.values():
        code_dir = str(function.code_dir)
        if code_dir not in sys.path:
            sys.path.insert(0, code_dir)
        name = WEB_ADAPTER_LOCAL_APP if function.web_adapter else function.handler
        module_name, _, attribute = name.rpartition(".")
        found = getattr(importlib.import_module(module_name), attribute)
        handlers[function.logical_id] = AdaptedApp(found) if function.web_adapter else found
    return handlers


def main() -> None:
    import uvicorn

    from handler.local import local_store
    from infra.settings import Settings, get_settings

    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(message)s")
    port = int(os.environ.get("PORT", "3000"))
    host = os.environ.get("HOST", "127.0.0.1")
    settings = local_store(Settings())
    # The Lambda entries build their apps from the environment at import: point them there.
    os.environ["STORE_BACKEND"] = settings.store_backend
    os.environ["SQLITE_PATH"] = str(settings.sqlite_path.resolve())
    get_settings.cache_clear()
    spec = read_api()
    app = LocalRestApi(spec, import_handlers(spec), region=settings.aws_region)
    mounts: dict[tuple[str, str], list[str]] = {}
    for route in spec.routes:
        mounts.setdefault((route.function_id, route.path), []).append(route.method)
    for (function_id, path), methods in mounts.items():
        print(f"Mounted {function_id} at http://{host}:{port}{path} [{', '.join(methods)}]")
    print(f"letta-groups-serverless (API Gateway stand-in) on http://{host}:{port}", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="info", server_header=False)


if __name__ == "__main__":
    main()
