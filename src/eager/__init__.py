"""Eager: run LLM-generated Python while the model is still writing it."""

from ._answers import Answer
from ._backend import Backend, ExecError, ExecResult, RichOutput
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
    RequestSent,
    RunFinished,
)
from ._extract import Extractor, make_extractor
from ._fake import FakeBackend, FakeCall
from ._gate import POLICIES, Gate, Policy
from ._gateway import GatewayBackend, LocalGateway
from ._jupyter import JupyterBackend
from ._openai import OpenAISource
from ._openai_sdk import OpenAISDKSource
from ._repl import ReplBackend
from ._replay import ReplaySource, tokenize
from ._result import Batch, GateDecision, Metrics, Mode, RunResult
from ._run import OnError, run, run_sync
from ._server import ReplayServer
from ._source import Format, ScriptedSource, Source

__version__ = "0.1.0"

__all__ = [
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
    "Chunk",
    "ChunkClosed",
    "Chunker",
    "EagerError",
    "EndpointError",
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
    "ProgramSyntaxError",
    "ReplBackend",
    "ReplayServer",
    "ReplaySource",
    "RequestSent",
    "RichOutput",
    "RunFinished",
    "RunResult",
    "ScriptedSource",
    "Source",
    "SourceError",
    "SourceTimeoutError",
    "StreamError",
    "UsageError",
    "make_extractor",
    "run",
    "run_sync",
    "tokenize",
]
