"""Agent use-cases: create, read, list, modify, delete, and the groups an agent is in."""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import Any

from core import ids
from core.errors import ConflictError, InvalidInputError, NotFoundError, quote
from core.filters import ContainsText, Equals, Filter, HasAll, HasAny, matches
from core.groups.busy import ensure_idle
from core.model_handles import llm_config_for
from core.paging import PageRequest, paginate
from core.persistence.retry import retry_on_conflict
from core.persistence.unit_of_work import UnitOfWork
from core.ports import Clock, Store
from core.prompts import default_agent_name, default_system_prompt
from core.records import AgentRecord, BlockRecord, GroupRecord
from core.schemas.agents import (
    AgentFields,
    AgentState,
    CreateAgentRequest,
    UpdateAgent,
)
from core.schemas.groups import Group
from core.services.agent_views import agent_to_wire
from core.services.blocks import new_block_record
from core.services.groups import GroupFilter, group_to_wire
from core.services.links import attach_blocks, detach_blocks, remove_all
from core.services.sleeptime_agents import (
    add_sleeptime_agent,
    attach_to_sleeptime_agents,
    delete_owned_group,
    detach_from_sleeptime_agents,
)
from core.tools.catalog import (
    BASE_TOOLS_BY_AGENT_TYPE,
    BUILTIN_TOOLS,
    SUPPORTED_AGENT_TYPES,
    base_tool_rules,
)

_TOOLS_BY_ID = {tool.id: tool for tool in BUILTIN_TOOLS.values()}

# Fields kept verbatim and shown back; nothing in the service acts on them.
_ECHOED = (
    "embedding_config",
    "model_settings",
    "compaction_settings",
    "response_format",
    "enable_sleeptime",
    "message_buffer_autoclear",
    "secrets",
    "project_id",
    "template_id",
    "base_template_id",
    "identity_ids",
    "timezone",
    "max_files_open",
    "per_file_view_window_char_limit",
    "hidden",
    "last_run_completion",
    "last_run_duration_ms",
    "last_stop_reason",
)
_NOT_NULLABLE = ("name", "system", "model", "agent_type")


@dataclass(frozen=True)
class AgentFilter:
    """The list route's query filters, turned into store filters (`filters`) so the
    store applies them where the agents are."""

    name: str | None = None
    tags: tuple[str, ...] = ()
    match_all_tags: bool = False
    query_text: str | None = None
    project_id: str | None = None
    template_id: str | None = None
    base_template_id: str | None = None
    identity_id: str | None = None
    last_stop_reason: str | None = None

    def filters(self) -> tuple[Filter, ...]:
        """Every filter asked for; all must hold (an unset one is left out)."""
        found: list[Filter] = []
        if self.name is not None:
            found.append(Equals("name", self.name))
        if self.query_text is not None:
            found.append(ContainsText("name", self.query_text))
        for field in ("project_id", "template_id", "base_template_id", "last_stop_reason"):
            value = getattr(self, field)
            if value is not None:
                found.append(Equals(field, value))
        if self.identity_id is not None:
            found.append(HasAny("identity_ids", (self.identity_id,)))
        if self.tags:
            found.append(
                HasAll("tags", self.tags) if self.match_all_tags else HasAny("tags", self.tags)
            )
        return tuple(found)


class AgentService:
    def __init__(self, store: Store, clock: Clock, default_model: str) -> None:
        self._store = store
        self._clock = clock
        self._default_model = default_model

    def create(self, tenant: str, req: CreateAgentRequest) -> AgentState:
        if req.agent_type not in SUPPORTED_AGENT_TYPES:
            raise InvalidInputError(
                f"agent_type {req.agent_type!r} is not supported here; use one of "
                f"{', '.join(SUPPORTED_AGENT_TYPES)}.",
                ("body", "agent_type"),
            )
        agent_id = ids.new_id(ids.AGENT)
        handle = self._handle_from(req) or self._default_model
        tool_names = self._tool_names(req)
        record = AgentRecord(
            id=agent_id,
            created_at=self._clock.now(),
            name=req.name or default_agent_name(agent_id),
            system=req.system if req.system is not None else default_system_prompt(req.agent_type),
            agent_type=req.agent_type,
            model=handle,
            llm_config=self._llm_config(handle, req),
            embedding=req.embedding,
            tool_names=tool_names,
            tool_rules=_rules_at_creation(req, tool_names),
            tags=list(req.tags or []),
            description=req.description,
            metadata=req.metadata,
            echoed=_echoed(req, req.model_fields_set | {"enable_sleeptime"}),
        )
        uow = UnitOfWork(self._store, tenant, self._clock)
        uow.add(record)
        new_blocks = [new_block_record(body, self._clock) for body in req.memory_blocks or []]
        for block in new_blocks:
            uow.add(block)
        existing = uow.load_many(BlockRecord, req.block_ids or [])
        attach_blocks(uow, record, [*new_blocks, *existing])
        if req.enable_sleeptime:
            add_sleeptime_agent(uow, record, [*new_blocks, *existing])
        uow.commit()
        return agent_to_wire(uow, record)

    def get(self, tenant: str, agent_id: str) -> AgentState:
        uow = UnitOfWork(self._store, tenant, self._clock)
        return agent_to_wire(uow, uow.load(AgentRecord, agent_id))

    def list(self, tenant: str, page: PageRequest, where: AgentFilter) -> list[AgentState]:
        records = self._store.list(tenant, AgentRecord, page, where.filters())
        uow = UnitOfWork(self._store, tenant, self._clock)
        uow.load_existing(BlockRecord, [b for r in records for b in r.block_ids])
        uow.load_existing(GroupRecord, [g for r in records for g in r.managed_group_ids])
        return [agent_to_wire(uow, r) for r in records]

    @retry_on_conflict("the agent")
    def update(self, tenant: str, agent_id: str, req: UpdateAgent) -> AgentState:
        uow = UnitOfWork(self._store, tenant, self._clock)
        record = uow.load(AgentRecord, agent_id)
        sent = req.model_fields_set
        for field in _NOT_NULLABLE:
            if field in sent and getattr(req, field) is None:
                raise InvalidInputError(f"{field} cannot be null.", ("body", field))
        if "name" in sent:
            record.name = req.name or record.name
        if "system" in sent:
            record.system = req.system or ""
        for field in ("description", "metadata", "embedding"):
            if field in sent:
                setattr(record, field, getattr(req, field))
        if "tags" in sent:
            record.tags = list(req.tags or [])
        if "tool_rules" in sent:
            record.tool_rules = _dump_rules(req)
        if "tool_ids" in sent:
            record.tool_names = _tool_names_from_ids(req.tool_ids or [])
        handle = self._handle_from(req)
        if handle or sent & {"context_window_limit", "llm_config", "max_tokens"}:
            record.model = handle or record.model
            record.llm_config = self._llm_config(record.model, req, record.llm_config)
        record.echoed.update(_echoed(req, sent))
        if "block_ids" in sent:
            wanted = list(dict.fromkeys(req.block_ids or []))
            gone = uow.load_existing(BlockRecord, [b for b in record.block_ids if b not in wanted])
            added = uow.load_many(BlockRecord, [b for b in wanted if b not in record.block_ids])
            detach_blocks(uow, record, gone)
            attach_blocks(uow, record, uow.load_many(BlockRecord, wanted))
            record.block_ids = wanted
            detach_from_sleeptime_agents(uow, record, gone)
            attach_to_sleeptime_agents(uow, record, added)
        if req.enable_sleeptime and not record.managed_group_ids:
            # As Letta: turning sleeptime on for an agent that manages no group gives it
            # its sleeptime agent and group now.
            add_sleeptime_agent(uow, record, uow.load_existing(BlockRecord, record.block_ids))
        uow.touch(record)
        uow.commit()
        return agent_to_wire(uow, record)

    @retry_on_conflict("the agent")
    def attach_block(self, tenant: str, agent_id: str, block_id: str) -> AgentState:
        """Give the agent an existing block (a no-op if it already has it); its sleeptime
        agents get it too, as Letta does."""
        uow = UnitOfWork(self._store, tenant, self._clock)
        record = uow.load(AgentRecord, agent_id)
        block = uow.load(BlockRecord, block_id)
        attach_blocks(uow, record, [block])
        attach_to_sleeptime_agents(uow, record, [block])
        uow.commit()
        return agent_to_wire(uow, record)

    @retry_on_conflict("the agent")
    def detach_block(self, tenant: str, agent_id: str, block_id: str) -> AgentState:
        """Take a block from the agent (404 if it does not hold it) and from its sleeptime
        agents; the block itself stays."""
        uow = UnitOfWork(self._store, tenant, self._clock)
        record = uow.load(AgentRecord, agent_id)
        if block_id not in record.block_ids:
            raise NotFoundError(f"No block with id '{block_id}' found for agent '{agent_id}'.")
        blocks = uow.load_existing(BlockRecord, [block_id])
        detach_blocks(uow, record, blocks)
        detach_from_sleeptime_agents(uow, record, blocks)
        uow.commit()
        return agent_to_wire(uow, record)

    @retry_on_conflict("the agent")
    def delete(self, tenant: str, agent_id: str) -> None:
        """Delete the agent, leaving its groups (minus it) and its blocks in place."""
        uow = UnitOfWork(self._store, tenant, self._clock)
        record = uow.load(AgentRecord, agent_id)
        for owned in uow.load_existing(GroupRecord, record.managed_group_ids):
            if owned.owner_agent_id == agent_id:
                ensure_idle(owned, uow.now, f"deleting its main agent {agent_id}")
                delete_owned_group(uow, owned)
        if record.managed_group_ids:
            raise ConflictError(
                f"Agent {agent_id} manages group(s) {', '.join(record.managed_group_ids)}; "
                "delete those groups or give them another manager first."
            )
        for group in uow.load_existing(GroupRecord, record.group_ids):
            ensure_idle(group, uow.now, f"deleting its member {agent_id}")
            remove_all(group.agent_ids, [agent_id])
            uow.touch(group)
        for block in uow.load_existing(BlockRecord, record.block_ids):
            remove_all(block.agent_ids, [agent_id])
            uow.touch(block)
        uow.remove(record)
        uow.commit()

    def list_groups(
        self, tenant: str, agent_id: str, page: PageRequest, manager_type: str | None
    ) -> builtins.list[Group]:
        """Groups the agent is a member or the manager of, oldest first by default."""
        uow = UnitOfWork(self._store, tenant, self._clock)
        record = uow.load(AgentRecord, agent_id)
        group_ids = list(dict.fromkeys([*record.group_ids, *record.managed_group_ids]))
        groups = sorted(
            uow.load_existing(GroupRecord, group_ids), key=lambda g: (g.created_at, g.id)
        )
        # A bounded list held on the agent: filtered here, paged as every list is.
        filters = GroupFilter(manager_type=manager_type).filters()
        page_of = paginate(groups, page, lambda g: g.id, lambda g: matches(g, filters))
        return [group_to_wire(g) for g in page_of]

    # -- helpers -------------------------------------------------------------------------

    @staticmethod
    def _handle_from(req: AgentFields) -> str | None:
        if req.model:
            return req.model
        if req.llm_config is not None:
            if req.llm_config.handle:
                return req.llm_config.handle
            if req.llm_config.model_endpoint_type:
                return f"{req.llm_config.model_endpoint_type}/{req.llm_config.model}"
        return None

    @staticmethod
    def _llm_config(
        handle: str, req: AgentFields, current: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        window = req.context_window_limit or (
            req.llm_config.context_window if req.llm_config is not None else None
        )
        if window is None and current is not None and current.get("handle") == handle:
            window = current.get("context_window")
        overrides = req.llm_config.model_dump() if req.llm_config else {}
        if req.max_tokens is not None:
            overrides["max_tokens"] = req.max_tokens
        return llm_config_for(handle, window, overrides)

    @staticmethod
    def _tool_names(req: CreateAgentRequest) -> builtins.list[str]:
        names = list(BASE_TOOLS_BY_AGENT_TYPE[req.agent_type]) if req.include_base_tools else []
        for index, name in enumerate(req.tools or []):
            if name not in BUILTIN_TOOLS:
                raise InvalidInputError(
                    f"Unknown tool {name!r}; this service has only built-in tools: "
                    f"{', '.join(BUILTIN_TOOLS)}.",
                    ("body", "tools", index),
                )
            names.append(name)
        names.extend(_tool_names_from_ids(req.tool_ids or []))
        return list(dict.fromkeys(names))


def _echoed(req: AgentFields, sent: set[str]) -> dict[str, Any]:
    values = req.model_dump(include=set(_ECHOED) & sent, mode="json")
    if "tool_exec_environment_variables" in sent and "secrets" not in sent:
        values["secrets"] = req.tool_exec_environment_variables
    return values


def _rules_at_creation(
    req: CreateAgentRequest, tool_names: list[str]
) -> list[dict[str, Any]] | None:
    """The caller's rules, then the agent type's base rules for the tools it holds (unless
    `include_base_tool_rules` is false), as Letta adds them."""
    rules = _dump_rules(req)
    if req.include_base_tool_rules is False:
        return rules
    sent = {(r["type"], r["tool_name"]) for r in rules or []}
    base = [
        r
        for r in base_tool_rules(req.agent_type, tool_names)
        if (r["type"], r["tool_name"]) not in sent
    ]
    return [*(rules or []), *base] if base else rules


def _dump_rules(req: AgentFields) -> list[dict[str, Any]] | None:
    if req.tool_rules is None:
        return None
    return [rule.model_dump(mode="json") for rule in req.tool_rules]


def _tool_names_from_ids(tool_ids: list[str]) -> list[str]:
    missing = [t for t in tool_ids if t not in _TOOLS_BY_ID]
    if missing:
        raise NotFoundError(f"Tool not found: {quote(', '.join(missing))}")
    return [_TOOLS_BY_ID[t].name for t in tool_ids]
