"""Agents: a multi-turn loop over one session, each turn run while the model streams it.

``Agent`` runs the loop (``AgentConfig``, ``AgentTurn``, ``AgentResult``); ``Model`` is the
model-client interface (``ScriptedModel`` for tests, ``EndpointModel`` for HTTP endpoints in
each ``Protocol``); the conversation is protocol-neutral (``UserMessage``, ``AssistantMessage``,
``ToolResult``), encoded per protocol by ``encode``; ``partial_turn`` is the repair encoding of
a cut turn; ``observation`` / ``observe`` / ``ObservationBudget`` make the observation of a
run (its text, and its images as ``ImagePart`` s); ``system_prompt`` / ``program_prompt`` are
the default system prompts (what the model is told about the session).
"""

from ._encode import PROTOCOLS, Protocol, encode, tool_spec
from ._events import AgentEvent, CodeFinished, CodeStarted, ModelDelta, TurnEnded, TurnStarted
from ._history import (
    AssistantMessage,
    ImagePart,
    Message,
    ToolResult,
    UserMessage,
    close_fences,
    code_of_call,
    cut_at_code_line,
    partial_turn,
)
from ._loop import Agent
from ._model import CodeStyle, EndpointModel, Model, ScriptedModel
from ._observe import Observation, ObservationBudget, cut_middle, observation, observe
from ._prompt import files_line, program_prompt, system_prompt
from ._records import (
    FINAL_ANSWER_SETUP,
    AgentConfig,
    AgentResult,
    AgentTurn,
    Repair,
    StopReason,
    final_answer_of,
)

__all__ = [
    "FINAL_ANSWER_SETUP",
    "PROTOCOLS",
    "Agent",
    "AgentConfig",
    "AgentEvent",
    "AgentResult",
    "AgentTurn",
    "AssistantMessage",
    "CodeFinished",
    "CodeStarted",
    "CodeStyle",
    "EndpointModel",
    "ImagePart",
    "Message",
    "Model",
    "ModelDelta",
    "Observation",
    "ObservationBudget",
    "Protocol",
    "Repair",
    "ScriptedModel",
    "StopReason",
    "ToolResult",
    "TurnEnded",
    "TurnStarted",
    "UserMessage",
    "close_fences",
    "code_of_call",
    "cut_at_code_line",
    "cut_middle",
    "encode",
    "files_line",
    "final_answer_of",
    "observation",
    "observe",
    "partial_turn",
    "program_prompt",
    "system_prompt",
    "tool_spec",
]
