"""Core memory: how blocks appear in the system prompt, and the memory-editing tools.

The tools edit BlockRecords loaded through the step's UnitOfWork, so an edit commits with
the step and every agent sharing the block sees it on its next step. Each tool enforces the
block's character limit and read_only flag; breaking either is a ToolError, which goes back
to the model as an error result instead of failing the request.
"""

from __future__ import annotations

from core.records import BlockRecord


class ToolError(Exception):
    """A tool could not do what was asked; the message is returned to the model."""


def render_memory(blocks: list[BlockRecord]) -> str:
    """The memory section of the system prompt: each block with its label, limit, value."""
    if not blocks:
        return "<memory_blocks>\n(no memory blocks)\n</memory_blocks>"
    parts = ["<memory_blocks>"]
    for block in blocks:
        flags = " read_only" if block.read_only else ""
        description = (
            f"\n<description>{block.description}</description>" if block.description else ""
        )
        parts.append(
            f'<{block.label} chars_current="{len(block.value)}" chars_limit="{block.limit}"'
            f"{flags}>{description}\n<value>\n{block.value}\n</value>\n</{block.label}>"
        )
    parts.append("</memory_blocks>")
    return "\n".join(parts)


def block_by_label(blocks: list[BlockRecord], label: str) -> BlockRecord:
    for block in blocks:
        if block.label == label:
            return block
    labels = ", ".join(repr(b.label) for b in blocks) or "none"
    raise ToolError(f"No memory block labelled {label!r}; the blocks are: {labels}.")


def _writable(block: BlockRecord) -> BlockRecord:
    if block.read_only:
        raise ToolError(f"Memory block {block.label!r} is read-only.")
    return block


def _store(block: BlockRecord, value: str) -> str:
    if len(value) > block.limit:
        raise ToolError(
            f"Edit failed: block {block.label!r} would hold {len(value)} characters, above "
            f"its limit of {block.limit}. Shorten the content or rewrite the block."
        )
    block.value = value
    return f"Memory block {block.label!r} updated ({len(value)}/{block.limit} characters)."


def append(block: BlockRecord, content: str) -> str:
    _writable(block)
    joined = f"{block.value}\n{content}" if block.value else content
    return _store(block, joined)


def replace(block: BlockRecord, old: str, new: str, *, unique: bool) -> str:
    _writable(block)
    count = block.value.count(old) if old else 0
    if count == 0:
        raise ToolError(f"{old!r} does not appear in memory block {block.label!r}.")
    if unique and count > 1:
        raise ToolError(
            f"{old!r} appears {count} times in memory block {block.label!r}; "
            "include more context so it is unique."
        )
    return _store(block, block.value.replace(old, new))


def insert(block: BlockRecord, text: str, line: int | None) -> str:
    _writable(block)
    lines = block.value.split("\n") if block.value else []
    position = len(lines) if line is None or line < 0 else min(line, len(lines))
    lines.insert(position, text)
    return _store(block, "\n".join(lines))


def rethink(block: BlockRecord, new_memory: str) -> str:
    _writable(block)
    return _store(block, new_memory)
