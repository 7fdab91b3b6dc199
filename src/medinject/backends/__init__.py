"""LLM backends shared by every stage that calls a model."""

from .base import Backend, ChatRequest, ChatResponse

__all__ = ["Backend", "ChatRequest", "ChatResponse"]
