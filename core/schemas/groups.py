"""Wire models of groups (Letta's GroupCreate, GroupUpdate with manager configs, Group)."""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from core.errors import BadRequestError, InvalidInputError
from core.ids import AgentId, BlockId
from core.lazy_model import LazyModel, deferred_adapter

ManagerType = Literal["round_robin", "supervisor", "dynamic", "sleeptime", "voice_sleeptime"]
DEFAULT_TERMINATION_TOKEN = "DONE!"
DEFAULT_MAX_BUFFER = 30
DEFAULT_MIN_BUFFER = 15
"""voice_sleeptime's message buffer bounds when a group sets none (Letta's)."""

MAX_TURNS = 100
"""Turns one send may take: a bound, so no group can send forever (Letta has none)."""
Turns = Annotated[int, Field(ge=1, le=MAX_TURNS)]
Frequency = Annotated[int, Field(ge=0)]
BufferLength = Annotated[int, Field(ge=0)]


class RoundRobinManager(LazyModel):
    manager_type: Literal["round_robin"] = "round_robin"
    max_turns: Turns | None = None


class SupervisorManager(LazyModel):
    manager_type: Literal["supervisor"] = "supervisor"
    manager_agent_id: AgentId


class DynamicManager(LazyModel):
    manager_type: Literal["dynamic"] = "dynamic"
    manager_agent_id: AgentId
    termination_token: str | None = DEFAULT_TERMINATION_TOKEN
    max_turns: Turns | None = None


class SleeptimeManager(LazyModel):
    manager_type: Literal["sleeptime"] = "sleeptime"
    manager_agent_id: AgentId
    sleeptime_agent_frequency: Frequency | None = None


class VoiceSleeptimeManager(LazyModel):
    manager_type: Literal["voice_sleeptime"] = "voice_sleeptime"
    manager_agent_id: AgentId
    max_message_buffer_length: BufferLength | None = None
    min_message_buffer_length: BufferLength | None = None


ManagerConfig = Annotated[
    RoundRobinManager
    | SupervisorManager
    | DynamicManager
    | SleeptimeManager
    | VoiceSleeptimeManager,
    Field(discriminator="manager_type"),
]


class RoundRobinManagerUpdate(LazyModel):
    manager_type: Literal["round_robin"] = "round_robin"
    max_turns: Turns | None = None


class SupervisorManagerUpdate(LazyModel):
    manager_type: Literal["supervisor"] = "supervisor"
    manager_agent_id: AgentId | None = None


class DynamicManagerUpdate(LazyModel):
    manager_type: Literal["dynamic"] = "dynamic"
    manager_agent_id: AgentId | None = None
    termination_token: str | None = None
    max_turns: Turns | None = None


class SleeptimeManagerUpdate(LazyModel):
    manager_type: Literal["sleeptime"] = "sleeptime"
    manager_agent_id: AgentId | None = None
    sleeptime_agent_frequency: Frequency | None = None


class VoiceSleeptimeManagerUpdate(LazyModel):
    manager_type: Literal["voice_sleeptime"] = "voice_sleeptime"
    manager_agent_id: AgentId | None = None
    max_message_buffer_length: BufferLength | None = None
    min_message_buffer_length: BufferLength | None = None


ManagerConfigUpdate = Annotated[
    RoundRobinManagerUpdate
    | SupervisorManagerUpdate
    | DynamicManagerUpdate
    | SleeptimeManagerUpdate
    | VoiceSleeptimeManagerUpdate,
    Field(discriminator="manager_type"),
]


_MANAGER_UPDATE: TypeAdapter[ManagerConfigUpdate] = deferred_adapter(ManagerConfigUpdate)


PATTERN_CHANGE_REFUSED = "Cannot change group pattern after creation"
"""Letta's exact words (clients match on them)."""


def parse_manager_update(data: dict[str, Any], current_type: str) -> BaseModel:
    """Validate a manager_config update for a group of `current_type`.

    A missing manager_type means the group's own; a different one is a 400, since a
    group's pattern cannot change. Field errors are 422s located under manager_config.
    """
    data = {"manager_type": current_type, **data}
    if data["manager_type"] != current_type:
        raise BadRequestError(PATTERN_CHANGE_REFUSED)
    try:
        return _MANAGER_UPDATE.validate_python(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = ("body", "manager_config", *error["loc"][1:])
        raise InvalidInputError(error["msg"], loc) from exc


class GroupCreate(LazyModel):
    """POST /v1/groups/."""

    agent_ids: list[AgentId]
    description: str
    manager_config: ManagerConfig = Field(default_factory=RoundRobinManager)
    project_id: str | None = None
    shared_block_ids: list[BlockId] = Field(default_factory=list)
    hidden: bool | None = None


class GroupUpdate(LazyModel):
    """PATCH /v1/groups/{id}: only fields the caller sent are applied, null included.

    `manager_config` is read against the group's own manager type (see
    `parse_manager_update`): the SDK's update types make `manager_type` optional, so a
    body like `{"max_turns": null}` must still work.
    """

    agent_ids: list[AgentId] | None = None
    description: str | None = None
    manager_config: dict[str, Any] | None = None
    project_id: str | None = None
    shared_block_ids: list[BlockId] | None = None


class Group(LazyModel):
    """A group as responses show it: the manager's fields flattened onto it."""

    model_config = ConfigDict(extra="forbid")

    id: str
    manager_type: ManagerType
    agent_ids: list[str]
    description: str
    project_id: str | None = None
    template_id: str | None = None
    base_template_id: str | None = None
    deployment_id: str | None = None
    shared_block_ids: list[str] = Field(default_factory=list)
    manager_agent_id: str | None = None
    termination_token: str | None = None
    max_turns: int | None = None
    sleeptime_agent_frequency: int | None = None
    turns_counter: int | None = None
    last_processed_message_id: str | None = None
    max_message_buffer_length: int | None = None
    min_message_buffer_length: int | None = None
    hidden: bool | None = None
