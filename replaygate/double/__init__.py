"""A generic offline test double: a Python function answers the OpenAI wire protocol, in process."""

from replaygate.double.reply import Reply, ToolCall
from replaygate.double.request import ModelRequest, ToolResult
from replaygate.double.transport import FunctionModel, FunctionTransport

__all__ = ["FunctionModel", "FunctionTransport", "ModelRequest", "Reply", "ToolCall", "ToolResult"]
