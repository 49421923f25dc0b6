"""Service configuration, read once per process from the environment."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every setting the service reads; see the configuration table in README.md."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    table_name: str = Field("letta-groups", description="The DynamoDB table holding all state.")
    aws_region: str = Field("us-east-1", validation_alias="AWS_REGION")
    dynamodb_endpoint_url: str | None = Field(
        None,
        validation_alias="AWS_ENDPOINT_URL_DYNAMODB",
        description="A DynamoDB endpoint other than AWS's (DynamoDB Local, moto's server).",
    )
    store_backend: Literal["dynamodb", "sqlite"] = Field(
        "dynamodb",
        description="Where state lives: the DynamoDB table (the cloud), or the SQLite file "
        "at SQLITE_PATH (`make run` and `make local-api` unless AWS_ENDPOINT_URL_DYNAMODB "
        "is set).",
    )
    sqlite_path: Path = Field(
        Path(".data/letta.sqlite3"),
        description="The SQLite file of STORE_BACKEND=sqlite, relative to the working directory; "
        "created with its folder on first use.",
    )
    serialize_dynamodb_calls: bool = Field(
        False,
        description="Run DynamoDB calls one at a time: for emulators that are not "
        "thread-safe (moto, used by the tests and the benchmarks).",
    )
    run_launcher: Literal["threads", "sqs"] = Field(
        "threads",
        description="How background Runs execute: `threads` (in the server process, for "
        "`make run`) or `sqs` (sent to RUN_QUEUE_URL for the worker function: on Lambda, "
        "where threads freeze once the response is returned).",
    )
    run_queue_url: str | None = Field(
        None, description="The SQS queue runs are sent to when RUN_LAUNCHER is `sqs`."
    )
    callback_allow_private: bool = Field(
        False,
        description="Let callback_url be plain http or resolve to private, loopback or "
        "link-local addresses (local testing only).",
    )
    tracing_enabled: bool = Field(
        False,
        description="Trace invocations with AWS X-Ray through Powertools' Tracer (needs "
        "aws-xray-sdk: `aws-lambda-powertools[tracer]`; off, it is not even imported).",
    )
    default_model: str = Field("offline/default", description="Model handle for new agents.")
    api_keys: str = Field(
        "",
        description=(
            "Local convenience only (never in a deploy: keys there live hashed in the table, "
            "`python -m handler.keys`): comma-separated bearer keys, each `key` or "
            "`tenant:key`."
        ),
    )
    open_api: bool | None = Field(
        None,
        description="Serve callers without a valid key, as the tenant `default`. Unset: "
        "open only when API_KEYS is empty (`make run`); the template sets it, false by "
        "default, so a deploy answers 401 until a key is created.",
    )
    api_key_cache_s: float = Field(
        30.0,
        ge=0,
        le=60,
        description="How long a stored key's lookup is cached: a revoked key may still "
        "open for this long.",
    )
    api_base_path: str = Field(
        "/",
        description=(
            "Path prefix to strip before routing, e.g. `/prod` behind an HTTP API with a "
            "named stage (REST APIs already strip their stage)."
        ),
    )
    openai_base_url: str = Field(
        "https://api.openai.com/v1",
        description="Base URL of the OpenAI-compatible server for `openai/...` models "
        "(vLLM, Ollama, LM Studio: their /v1 URL).",
    )
    openai_api_key: str | None = None
    anthropic_base_url: str = "https://api.anthropic.com"
    anthropic_api_key: str | None = None
    provider_secret_arn: str | None = Field(
        None,
        description="Secrets Manager secret with JSON {openai_api_key, anthropic_api_key}; "
        "read once per container when a provider key is not set directly.",
    )
    bedrock_region: str | None = Field(None, description="Region for Bedrock; AWS_REGION if unset.")
    model_timeout_s: float = Field(60.0, description="Timeout of one model call.")
    model_retry_budget_s: float = Field(
        30.0, description="Time all retries of one model call may take together."
    )
    offline_model_latency_ms: int = Field(
        0, ge=0, description="Delay added to every offline model call (for tests, benchmarks)."
    )
    group_lease_s: float = Field(
        180.0,
        gt=0,
        description="How long a group send holds the group between two of its writes "
        "(above the function timeout, so a killed send frees the group soon after).",
    )
    send_deadline_s: float = Field(
        840.0,
        gt=0,
        description="Wall-clock seconds a group send may take: past them it stops before "
        "its next turn with stop reason `cancelled`, keeping what it produced.",
    )
    sse_ping_s: float = Field(
        15.0,
        gt=0,
        description="Seconds between `: ping` comments on a silent SSE stream, so proxies "
        "do not cut a long send.",
    )
    service_version: str = "0.1.0"

    @model_validator(mode="after")
    def _queue_for_sqs(self) -> Settings:
        """Refuse at start-up, not at the first run, a worker queue that is not configured."""
        if self.run_launcher == "sqs" and not self.run_queue_url:
            raise ValueError("RUN_LAUNCHER=sqs needs RUN_QUEUE_URL (the run queue's URL).")
        return self

    @property
    def open_access(self) -> bool:
        """Whether a request without a valid key is served (OPEN_API, or its default)."""
        return self.open_api if self.open_api is not None else not self.tenants_by_key()

    def tenants_by_key(self) -> dict[str, str]:
        """Map each accepted bearer key to the tenant it opens."""
        mapping: dict[str, str] = {}
        for entry in filter(None, (e.strip() for e in self.api_keys.split(","))):
            tenant, sep, key = entry.rpartition(":")
            mapping[key] = tenant if sep and tenant else "default"
        return mapping


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
