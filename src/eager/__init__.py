"""Eager: run LLM-generated Python while the model is still writing it."""

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
from ._source import Format, ScriptedSource, Source

__version__ = "0.1.0"

__all__ = [
    "Backend",
    "BackendCrashedError",
    "BackendError",
    "BackendProtocolError",
    "BackendStartError",
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
    "FirstToken",
    "Format",
    "GateDecided",
    "GenerationEnded",
    "MissingExtraError",
    "ProgramSyntaxError",
    "RequestSent",
    "RichOutput",
    "RunFinished",
    "ScriptedSource",
    "Source",
    "SourceError",
    "SourceTimeoutError",
    "StreamError",
    "UsageError",
    "make_extractor",
]
