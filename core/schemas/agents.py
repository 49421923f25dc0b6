"""Wire models of agents (Letta's CreateAgentRequest, UpdateAgent, AgentState)."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field

from core.ids import BlockId
from core.lazy_model import LazyModel
from core.schemas.blocks import Block, CreateBlock
from core.schemas.groups import Group

AgentType = Literal[
    "memgpt_agent",
    "memgpt_v2_agent",
    "letta_v1_agent",
    "react_agent",
    "workflow_agent",
    "split_thread_agent",
    "sleeptime_agent",
    "voice_convo_agent",
    "voice_sleeptime_agent",
]
StopReasonType = Literal[
    "end_turn",
    "error",
    "llm_api_error",
    "invalid_llm_response",
    "invalid_tool_call",
    "max_steps",
    "max_tokens_exceeded",
    "no_tool_call",
    "tool_rule",
    "cancelled",
    "requires_approval",
    "context_window_overflow_in_system_prompt",
]


class _Rule(LazyModel):
    model_config = ConfigDict(extra="forbid")

    tool_name: str = Field(min_length=1)
    prompt_template: str | None = None


class ChildToolRule(_Rule):
    type: Literal["constrain_child_tools"] = "constrain_child_tools"
    children: list[str]
    child_arg_nodes: list[dict[str, Any]] | None = None


class InitToolRule(_Rule):
    type: Literal["run_first"] = "run_first"
    args: dict[str, Any] | None = None


class TerminalToolRule(_Rule):
    type: Literal["exit_loop"] = "exit_loop"


class ConditionalToolRule(_Rule):
    type: Literal["conditional"] = "conditional"
    default_child: str | None = None
    child_output_mapping: dict[str, str]
    require_output_mapping: bool = False


class ContinueToolRule(_Rule):
    type: Literal["continue_loop"] = "continue_loop"


class RequiredBeforeExitToolRule(_Rule):
    type: Literal["required_before_exit"] = "required_before_exit"


class MaxCountPerStepToolRule(_Rule):
    type: Literal["max_count_per_step"] = "max_count_per_step"
    max_count_limit: int = Field(ge=1)


class ParentToolRule(_Rule):
    type: Literal["parent_last_tool"] = "parent_last_tool"
    children: list[str]


class RequiresApprovalToolRule(_Rule):
    type: Literal["requires_approval"] = "requires_approval"


ToolRule = Annotated[
    ChildToolRule
    | InitToolRule
    | TerminalToolRule
    | ConditionalToolRule
    | ContinueToolRule
    | RequiredBeforeExitToolRule
    | MaxCountPerStepToolRule
    | ParentToolRule
    | RequiresApprovalToolRule,
    Field(discriminator="type"),
]


class ModelSettings(LazyModel):
    """Provider-specific settings; kept and echoed as sent, keyed by `provider_type`."""

    model_config = ConfigDict(extra="allow")

    provider_type: str


class LLMConfigIn(LazyModel):
    """The deprecated `llm_config` body field: only what picks the model is read."""

    model_config = ConfigDict(extra="allow")

    model: str
    model_endpoint_type: str | None = None
    handle: str | None = None
    context_window: int | None = Field(None, ge=1)
    temperature: float | None = None
    max_tokens: int | None = None


class AgentFields(LazyModel):
    """Fields shared by create and modify, all optional (modify applies only those sent)."""

    name: str | None = Field(None, min_length=1)
    system: str | None = None
    tool_ids: list[str] | None = None
    block_ids: list[BlockId] | None = None
    tags: list[str] | None = None
    tool_rules: list[ToolRule] | None = None
    description: str | None = None
    metadata: dict[str, Any] | None = None
    model: str | None = None
    embedding: str | None = None
    model_settings: ModelSettings | None = None
    compaction_settings: dict[str, Any] | None = None
    context_window_limit: int | None = Field(None, ge=1)
    llm_config: LLMConfigIn | None = None
    embedding_config: dict[str, Any] | None = None
    response_format: dict[str, Any] | None = None
    max_tokens: int | None = None
    enable_sleeptime: bool | None = None
    message_buffer_autoclear: bool | None = None
    secrets: dict[str, str] | None = None
    tool_exec_environment_variables: dict[str, str] | None = None
    project_id: str | None = None
    template_id: str | None = None
    base_template_id: str | None = None
    identity_ids: list[str] | None = None
    timezone: str | None = None
    max_files_open: int | None = None
    per_file_view_window_char_limit: int | None = None
    hidden: bool | None = None


class CreateAgentRequest(AgentFields):
    """POST /v1/agents/. Unknown fields are ignored, as Letta's own server does."""

    agent_type: AgentType = "letta_v1_agent"
    memory_blocks: list[CreateBlock] | None = None
    tools: list[str] | None = None
    include_base_tools: bool = True
    include_multi_agent_tools: bool = False
    include_base_tool_rules: bool | None = None


class UpdateAgent(AgentFields):
    """PATCH /v1/agents/{id}."""

    last_run_completion: datetime | None = None
    last_run_duration_ms: int | None = None
    last_stop_reason: StopReasonType | None = None


class LLMConfig(LazyModel):
    model: str
    display_name: str | None = None
    model_endpoint_type: str
    model_endpoint: str | None = None
    provider_name: str | None = None
    provider_category: Literal["base", "byok"] | None = "base"
    context_window: int
    put_inner_thoughts_in_kwargs: bool | None = False
    handle: str | None = None
    temperature: float = 0.7
    max_tokens: int | None = None
    enable_reasoner: bool = True
    max_reasoning_tokens: int = 0


class Tool(LazyModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    tool_type: str
    description: str | None = None
    source_type: str | None = None
    name: str | None = None
    tags: list[str] = Field(default_factory=list)
    source_code: str | None = None
    json_schema: dict[str, Any] | None = None
    args_json_schema: dict[str, Any] | None = None
    return_char_limit: int = 50000
    default_requires_approval: bool | None = None
    enable_parallel_execution: bool | None = False
    metadata_: dict[str, Any] | None = None


class Memory(LazyModel):
    agent_type: str | None = None
    blocks: list[Block]
    file_blocks: list[dict[str, Any]] = Field(default_factory=list)
    prompt_template: str = ""


class AgentEnvironmentVariable(LazyModel):
    key: str
    value: str
    agent_id: str
    description: str | None = None


class AgentState(LazyModel):
    """The agent as every agent route returns it."""

    model_config = ConfigDict(extra="forbid")

    id: str
    name: str
    system: str
    agent_type: AgentType
    llm_config: LLMConfig
    embedding_config: dict[str, Any] | None = None
    model: str | None = None
    embedding: str | None = None
    model_settings: dict[str, Any] | None = None
    compaction_settings: dict[str, Any] | None = None
    response_format: dict[str, Any] | None = None
    description: str | None = None
    metadata: dict[str, Any] | None = None
    memory: Memory
    blocks: list[Block]
    tools: list[Tool]
    sources: list[dict[str, Any]] = Field(default_factory=list)
    tags: list[str]
    tool_rules: list[ToolRule] | None = None
    message_ids: list[str] | None = None
    tool_exec_environment_variables: list[AgentEnvironmentVariable] = Field(default_factory=list)
    secrets: list[AgentEnvironmentVariable] = Field(default_factory=list)
    project_id: str | None = None
    template_id: str | None = None
    base_template_id: str | None = None
    deployment_id: str | None = None
    entity_id: str | None = None
    identity_ids: list[str] = Field(default_factory=list)
    identities: list[dict[str, Any]] = Field(default_factory=list)
    pending_approval: dict[str, Any] | None = None
    message_buffer_autoclear: bool = False
    enable_sleeptime: bool | None = None
    multi_agent_group: Group | None = None
    managed_group: Group | None = None
    last_run_completion: datetime | None = None
    last_run_duration_ms: int | None = None
    last_stop_reason: StopReasonType | None = None
    timezone: str | None = None
    max_files_open: int | None = None
    per_file_view_window_char_limit: int | None = None
    hidden: bool | None = None
    created_by_id: str | None = None
    last_updated_by_id: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
