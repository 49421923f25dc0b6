"""StreamFunction entry: the app under uvicorn, behind the AWS Lambda Web Adapter.

The stream routes need each SSE frame to leave as it is written, which a buffered Lambda
response (Mangum, ``lambda_entry``) cannot do. On StreamFunction the Lambda Web Adapter
layer (``AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap``, ``AWS_LWA_INVOKE_MODE=response_stream``)
runs the Handler script ``run.sh``, which runs ``python -m handler.stream_entry``: uvicorn
serving the same FastAPI app on the port the adapter forwards to (``AWS_LWA_PORT``, else
``PORT``, else 8080, the adapter's default). The adapter turns each API Gateway event into
an HTTP request to it and streams the response body back through API Gateway.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import uvicorn

if TYPE_CHECKING:
    from uvicorn._types import ASGIApplication

#: The Lambda Web Adapter's defaults (its README: AWS_LWA_PORT, AWS_LWA_HOST).
DEFAULT_PORT = 8080
DEFAULT_HOST = "127.0.0.1"


@dataclass(frozen=True)
class ServerConfig:
    host: str
    port: int


def server_config(environ: Mapping[str, str] | None = None) -> ServerConfig:
    """Where to listen: where the adapter sends requests (AWS_LWA_PORT, then PORT)."""
    env = os.environ if environ is None else environ
    port = env.get("AWS_LWA_PORT") or env.get("PORT") or str(DEFAULT_PORT)
    host = env.get("AWS_LWA_HOST") or DEFAULT_HOST
    return ServerConfig(host=host, port=int(port))


def server(app: ASGIApplication, config: ServerConfig) -> uvicorn.Server:
    """The uvicorn server for ``app``. Lifespan off as in lambda_entry: the app has no
    start-up work of its own. Each response body chunk is written as the app sends it."""
    return uvicorn.Server(
        uvicorn.Config(
            app,
            host=config.host,
            port=config.port,
            lifespan="off",
            server_header=False,
            log_level="info",
        )
    )


def main() -> None:
    from handler.app import create_app

    server(create_app(), server_config()).run()


if __name__ == "__main__":
    main()
