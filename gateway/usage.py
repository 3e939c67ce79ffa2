"""Usage on every answer: the provider's count when it gave one, else counted by the gateway."""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway import tokens
from gateway.normal import ChatChunk, ChatRequest, ChatResponse, Usage


def completion_text(resp: ChatResponse) -> str:
    """Everything the model produced (text and tool-call arguments), as counted for completion tokens."""
    pieces = []
    for choice in resp.choices:
        pieces.append(choice.message.text())
        for call in choice.message.tool_calls or ():
            pieces.append(call.name)
            pieces.append(call.arguments)
    return "".join(pieces)


def ensure_usage(resp: ChatResponse, req: ChatRequest, model: str) -> ChatResponse:
    """Fill `resp.usage` by counting when the provider reported none; returns `resp`."""
    if resp.usage is None:
        resp.usage = tokens.count_usage(req, completion_text(resp), model)
    return resp


@dataclass(slots=True)
class StreamUsage:
    """Follows a stream's chunks: keeps the provider's usage if one arrives, else the text to count."""

    provider_usage: Usage | None = None
    pieces: list[str] = field(default_factory=list)

    def observe(self, chunk: ChatChunk) -> None:
        if chunk.content:
            self.pieces.append(chunk.content)
        if chunk.tool_calls:
            for tc in chunk.tool_calls:
                if tc.name:
                    self.pieces.append(tc.name)
                self.pieces.append(tc.arguments)
        if chunk.usage is not None:
            self.provider_usage = chunk.usage

    def final(self, req: ChatRequest, model: str) -> Usage:
        """The provider's usage, else the gateway's count of the prompt and the streamed completion."""
        if self.provider_usage is not None:
            return self.provider_usage
        return tokens.count_usage(req, "".join(self.pieces), model)
