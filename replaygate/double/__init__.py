"""A generic offline test double: a Python function answers the OpenAI wire protocol, in process."""

from replaygate.double.optimizer import OptimizerAsk, new_prompt, optimizer_ask
from replaygate.double.reply import Reply, ToolCall
from replaygate.double.request import ModelRequest, ToolResult
from replaygate.double.transport import FunctionModel, FunctionTransport

__all__ = ["AgentsModel", "FunctionModel", "FunctionTransport", "ModelRequest", "OptimizerAsk", "Reply", "ToolCall",
           "ToolResult", "new_prompt", "optimizer_ask"]


def __getattr__(name: str):
    # The hosted-agents double loads the cassette and trace modules: only for a suite that uses it.
    if name == "AgentsModel":
        from replaygate.double.agents import AgentsModel

        return AgentsModel
    raise AttributeError(f"module 'replaygate.double' has no attribute {name!r}")
