"""Eager: run LLM-generated Python while the model is still writing it.

The pure deciders live at the top (``_extract``, ``_chunker``, ``_gate``, ``_scheduler``,
``latency``, events, results, errors); ``_run`` moves data between them; the pluggable families
have folders: ``sources/`` (model streams), ``backends/`` (execution sessions) and ``server/``
(the replay server). ``cli/`` and ``bench/`` sit on top and are never imported by the library.
"""

from ._chunker import Chunk, Chunker
from ._errors import (
    BackendCrashedError,
    BackendError,
    BackendProtocolError,
    BackendStartError,
    EagerError,
    EndpointError,
    ExtractionError,
    MissingExtraError,
    ProgramSyntaxError,
    SourceError,
    SourceTimeoutError,
    StreamError,
    UsageError,
)
from ._events import (
    BatchDispatched,
    BatchFinished,
    ChunkClosed,
    Event,
    FirstToken,
    GateDecided,
    GenerationEnded,
    Prefetched,
    RequestSent,
    RunFinished,
)
from ._extract import Extractor, Format, make_extractor
from ._gate import POLICIES, Gate, Policy
from ._prefetch import imports_of
from ._result import (
    ERROR_KINDS,
    Batch,
    ErrorKind,
    ExecError,
    ExecResult,
    GateDecision,
    Metrics,
    Mode,
    RichOutput,
    RunResult,
)
from ._run import OnError, run, run_sync
from ._scheduler import BatchPlan, Scheduler
from .backends import (
    Backend,
    FakeBackend,
    FakeCall,
    GatewayBackend,
    JupyterBackend,
    LocalGateway,
    ReplBackend,
)
from .server import Answer, ReplayServer
from .sources import (
    OpenAISDKSource,
    OpenAISource,
    ReplaySource,
    ScriptedSource,
    Source,
    ToolCall,
    Turn,
    tokenize,
)

__version__ = "0.1.0"

__all__ = [
    "ERROR_KINDS",
    "POLICIES",
    "Answer",
    "Backend",
    "BackendCrashedError",
    "BackendError",
    "BackendProtocolError",
    "BackendStartError",
    "Batch",
    "BatchDispatched",
    "BatchFinished",
    "BatchPlan",
    "Chunk",
    "ChunkClosed",
    "Chunker",
    "EagerError",
    "EndpointError",
    "ErrorKind",
    "Event",
    "ExecError",
    "ExecResult",
    "ExtractionError",
    "Extractor",
    "FakeBackend",
    "FakeCall",
    "FirstToken",
    "Format",
    "Gate",
    "GateDecided",
    "GateDecision",
    "GatewayBackend",
    "GenerationEnded",
    "JupyterBackend",
    "LocalGateway",
    "Metrics",
    "MissingExtraError",
    "Mode",
    "OnError",
    "OpenAISDKSource",
    "OpenAISource",
    "Policy",
    "Prefetched",
    "ProgramSyntaxError",
    "ReplBackend",
    "ReplayServer",
    "ReplaySource",
    "RequestSent",
    "RichOutput",
    "RunFinished",
    "RunResult",
    "Scheduler",
    "ScriptedSource",
    "Source",
    "SourceError",
    "SourceTimeoutError",
    "StreamError",
    "ToolCall",
    "Turn",
    "UsageError",
    "imports_of",
    "make_extractor",
    "run",
    "run_sync",
    "tokenize",
]
