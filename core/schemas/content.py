"""Wire models of message content parts: text, images, and the tool and reasoning parts
Letta's API page lists."""

from typing import Annotated, Any, Literal

from pydantic import Field

from core.lazy_model import LazyModel


class TextContent(LazyModel):
    type: Literal["text"] = "text"
    text: str
    signature: str | None = None


class UrlImage(LazyModel):
    type: Literal["url"] = "url"
    url: str


class Base64Image(LazyModel):
    type: Literal["base64"] = "base64"
    data: str
    media_type: str
    detail: str | None = None


class LettaImage(LazyModel):
    type: Literal["letta"] = "letta"
    file_id: str
    data: str | None = None
    media_type: str | None = None
    detail: str | None = None


ImageSource = Annotated[UrlImage | Base64Image | LettaImage, Field(discriminator="type")]


class ImageContent(LazyModel):
    type: Literal["image"] = "image"
    source: ImageSource


class ToolCallContent(LazyModel):
    type: Literal["tool_call"] = "tool_call"
    id: str
    name: str
    input: dict[str, Any]
    signature: str | None = None


class ToolReturnContent(LazyModel):
    type: Literal["tool_return"] = "tool_return"
    tool_call_id: str
    content: str
    is_error: bool


class ReasoningContent(LazyModel):
    type: Literal["reasoning"] = "reasoning"
    is_native: bool
    reasoning: str
    signature: str | None = None


class RedactedReasoningContent(LazyModel):
    type: Literal["redacted_reasoning"] = "redacted_reasoning"
    data: str


class OmittedReasoningContent(LazyModel):
    type: Literal["omitted_reasoning"] = "omitted_reasoning"
    signature: str | None = None


class SummarizedReasoningPart(LazyModel):
    index: int
    text: str


class SummarizedReasoningContent(LazyModel):
    type: Literal["summarized_reasoning"] = "summarized_reasoning"
    id: str
    summary: list[SummarizedReasoningPart]
    encrypted_content: str | None = None


ContentPart = Annotated[
    TextContent
    | ImageContent
    | ToolCallContent
    | ToolReturnContent
    | ReasoningContent
    | RedactedReasoningContent
    | OmittedReasoningContent
    | SummarizedReasoningContent,
    Field(discriminator="type"),
]
UserContentPart = Annotated[TextContent | ImageContent, Field(discriminator="type")]
