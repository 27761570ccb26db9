"""evals.sim: a deterministic offline stand-in for an OpenAI chat model, never a real model.
Plays the room-selector agent and the strict judge so suites can run and record offline."""

from .completion import MODEL_NAME
from .conversation import SimRequestError
from .model import respond
from .transport import SimTransport

__all__ = ["MODEL_NAME", "SimRequestError", "SimTransport", "respond"]
