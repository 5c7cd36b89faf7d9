"""A session in a Ray actor: the pipeline runs where the tokens arrive, the code on the cluster.

Ray is an optional extra (``pip install 'eager[ray]'``), imported when a session starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import queue
import time
from collections.abc import Mapping
from typing import Any

from .._bridge import ToolBridge
from .._errors import (
    BackendError,
    BackendStartError,
    EagerError,
    MissingExtraError,
    UsageError,
)
from .._result import ExecError, ExecResult
from ._base import Backend, CellStep
from .repl import ReplBackend

__all__ = ["RAY_CALL_GRACE_S", "RayBackend"]

#: Extra time, past an execution's own timeout and restart grace, that a call to the actor may
#: take (scheduling, transfer) before the actor is given up as unreachable (a crash).
RAY_CALL_GRACE_S = 30.0
#: Bound on starting an actor and its session (placement may wait for resources).
RAY_START_TIMEOUT_S = 120.0
#: Bound on asking an actor to close its session before it is killed.
RAY_CLOSE_TIMEOUT_S = 10.0
#: How long the actor waits for a tool call before the driver asks again (s).
NEXT_CALL_POLL_S = 1.0


def _ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise MissingExtraError("ray", "ray") from exc
    return ray


class _Relay(ToolBridge):
    """In the actor: the session's tool calls, relayed to the driver that holds the tools.

    The driver takes each call with ``next_call`` (another concurrency group of the actor, so
    another thread and event loop) and answers it with ``answer``.
    """

    def __init__(self, specs: list[dict[str, Any]]) -> None:
        super().__init__()
        self._specs = specs
        self.calls: queue.Queue[dict[str, Any]] = queue.Queue()
        self.waiting: dict[int, tuple[asyncio.AbstractEventLoop, asyncio.Future[Any]]] = {}
        self._ids = itertools.count()

    @property
    def specs(self) -> list[dict[str, Any]]:
        return self._specs

    async def handle(self, name: str, args: list[Any], kwargs: dict[str, Any]) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        ident = next(self._ids)
        future: asyncio.Future[Any] = loop.create_future()
        self.waiting[ident] = (loop, future)
        self.calls.put({"id": ident, "name": name, "args": args, "kwargs": kwargs})
        try:
            reply: dict[str, Any] = await future
        finally:
            self.waiting.pop(ident, None)
        return reply

    def answer(self, ident: int, reply: dict[str, Any]) -> None:
        found = self.waiting.get(ident)
        if found is not None:
            loop, future = found
            loop.call_soon_threadsafe(_settle, future, reply)


def _settle(future: asyncio.Future[Any], value: Any) -> None:
    if not future.done():
        future.set_result(value)


class _SessionActor:
    """The actor's body: one local :class:`ReplBackend` (its event loop is the actor's)."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.backend = ReplBackend(**options)
        self.relay: _Relay | None = None

    async def bind_tools(self, specs: list[dict[str, Any]] | None) -> None:
        self.relay = _Relay(specs) if specs is not None else None
        self.backend.bind_tools(self.relay)

    async def next_call(self) -> dict[str, Any] | None:
        """The next tool call of the session (None after a while without one)."""
        relay = self.relay
        if relay is None:
            return None
        try:
            return await asyncio.to_thread(relay.calls.get, True, NEXT_CALL_POLL_S)
        except queue.Empty:
            return None

    async def answer(self, ident: int, reply: dict[str, Any]) -> None:
        if self.relay is not None:
            self.relay.answer(ident, reply)

    async def start(self) -> float | None:
        await self.backend.start()
        return self.backend.startup_s

    async def execute(
        self, code: str, first_line: int, timeout_s: float | None, cell: CellStep | None = None
    ) -> ExecResult:
        return await self.backend.execute(
            code, first_line=first_line, timeout_s=timeout_s, cell=cell
        )

    async def interrupt(self) -> None:
        # Runs in the "control" concurrency group (its own thread): never queued behind an
        # execution. ReplBackend.interrupt only sends a signal, which is safe from any thread.
        await self.backend.interrupt()

    async def reset(self) -> None:
        await self.backend.reset()

    async def close(self) -> None:
        await self.backend.close()


@functools.cache
def _actor_class() -> Any:
    return _ray().remote(concurrency_groups={"control": 1, "tools": 2})(_SessionActor)


class RayBackend(Backend):
    """A session that lives in a Ray actor holding a local :class:`ReplBackend`.

    Chunker, gate and scheduler run in this process; each invocation is one actor call.
    ``repl_options`` are the keyword arguments of the actor's ``ReplBackend`` (``timeout_s``,
    ``max_output_bytes``, ``memory_limit_bytes``, ``env``, ``sandbox`` where supported, ...),
    checked here first. Placement and resources are the caller's: ``num_cpus``,
    ``memory_bytes`` (Ray's ``memory``), ``resources`` (custom resources),
    ``scheduling_strategy`` (``"SPREAD"``, a ``NodeAffinitySchedulingStrategy``, a
    ``PlacementGroupSchedulingStrategy``) and any other option of ``ActorClass.options`` in
    ``actor_options`` (``runtime_env``, ``name``, ...). Ray must be initialised by the caller
    (``ray.init(...)``), else it is initialised here with ``address`` (None: a local instance).

    The actor dying (its node lost, killed, out of memory) comes back like a crashed session:
    an :class:`ExecError` of kind ``"crash"``; the next call starts a fresh actor. A call that
    outlives the execution's timeout plus its restart grace plus :data:`RAY_CALL_GRACE_S` is
    treated the same way. :meth:`interrupt` is served by a separate concurrency group of the
    actor, so it is never queued behind the execution it interrupts.
    """

    name = "ray"
    supports_tools = True

    def __init__(
        self,
        *,
        repl_options: Mapping[str, Any] | None = None,
        num_cpus: float | None = None,
        memory_bytes: int | None = None,
        resources: Mapping[str, float] | None = None,
        scheduling_strategy: Any = None,
        actor_options: Mapping[str, Any] | None = None,
        address: str | None = None,
    ) -> None:
        options = dict(repl_options or {})
        try:
            local = ReplBackend(**options)  # the same checks as on the actor, here and now
        except TypeError as exc:
            raise UsageError(f"repl_options: {exc}") from exc
        if num_cpus is not None and not num_cpus >= 0:
            raise UsageError(f"num_cpus must be >= 0, not {num_cpus!r}")
        if memory_bytes is not None and not memory_bytes > 0:
            raise UsageError(f"memory_bytes must be positive, not {memory_bytes!r}")
        self.repl_options = options
        self.timeout_s = local.timeout_s
        self.restart_grace_s = local.restart_grace_s
        placement: dict[str, Any] = dict(actor_options or {})
        placement.update(max_restarts=0, max_task_retries=0)
        if num_cpus is not None:
            placement["num_cpus"] = num_cpus
        if memory_bytes is not None:
            placement["memory"] = memory_bytes
        if resources:
            placement["resources"] = dict(resources)
        if scheduling_strategy is not None:
            placement["scheduling_strategy"] = scheduling_strategy
        self.actor_options = placement
        self.address = address
        #: Seconds the last actor start (placement + session start) took.
        self.startup_s: float | None = None
        #: How many actors were started.
        self.starts = 0
        self._actor: Any = None
        self._executing = False
        #: The actor and tool specs it relays (None: none bound there yet).
        self._relaying: tuple[Any, str] | None = None
        #: Serves the actor's tool calls while it lives.
        self._pump_task: asyncio.Task[None] | None = None

    @property
    def actor(self) -> Any:
        """The Ray actor handle holding the session (None when not running)."""
        return self._actor

    async def _start(self) -> None:
        if self._actor is None:
            await self._start_actor()

    async def _start_actor(self) -> Any:
        ray = _ray()
        if not ray.is_initialized():
            try:
                ray.init(
                    address=self.address,
                    include_dashboard=False,
                    log_to_driver=False,
                    ignore_reinit_error=True,
                )
            except Exception as exc:  # Ray raises plain ConnectionError/RuntimeError types
                raise BackendStartError(f"cannot start or reach the Ray cluster: {exc}") from exc
        t0 = time.perf_counter()
        try:
            actor = _actor_class().options(**self.actor_options).remote(self.repl_options)
        except Exception as exc:
            raise BackendStartError(f"cannot create the Ray actor: {exc}") from exc
        try:
            await asyncio.wait_for(actor.start.remote(), RAY_START_TIMEOUT_S)
        except BaseException as exc:
            with contextlib.suppress(Exception):
                ray.kill(actor, no_restart=True)
            if not isinstance(exc, Exception):
                raise
            raise BackendStartError(
                f"the Ray actor's session did not start: {_cause(exc)}"
            ) from exc
        self._actor = actor
        self.startup_s = time.perf_counter() - t0
        self.starts += 1
        return actor

    async def _execute(
        self,
        code: str,
        *,
        first_line: int,
        timeout_s: float | None,
        cell: CellStep | None = None,
    ) -> ExecResult:
        limit = self.timeout_s if timeout_s is None else timeout_s
        actor = self._actor if self._actor is not None else await self._start_actor()
        t0 = time.perf_counter()
        await self._relay_tools(actor)
        ref = actor.execute.remote(code, first_line, timeout_s, cell)
        bound = None if limit is None else limit + self.restart_grace_s + RAY_CALL_GRACE_S
        self._executing = True
        try:
            async with asyncio.timeout(bound):  # not wait_for: it can drop a cancellation
                result: ExecResult = await ref
            return result
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                _ray().cancel(ref)  # the actor's session settles (interrupts) by itself
            raise
        except Exception as exc:
            return self._lost(exc, t0)
        finally:
            self._executing = False

    async def _relay_tools(self, actor: Any) -> None:
        """Bind the tools' specs in the actor (when they changed) and keep one task serving
        its calls here for the actor's life (one: a call taken by a poll is always served)."""
        bridge = self._bridge
        if bridge is None:
            if self._relaying is not None and self._relaying[0] is actor:
                await actor.bind_tools.remote(None)
                self._relaying = None
            return
        specs = bridge.specs_key
        if self._relaying != (actor, specs):
            await actor.bind_tools.remote(bridge.specs)
            self._relaying = (actor, specs)
        pump = self._pump_task
        if pump is None or pump.done() or pump.get_loop() is not asyncio.get_running_loop():
            self._pump_task = asyncio.create_task(self._pump(actor))

    async def _pump(self, actor: Any) -> None:
        calls: set[asyncio.Task[None]] = set()
        try:
            while self._actor is actor:
                try:
                    call = await actor.next_call.options(concurrency_group="tools").remote()
                except Exception:
                    return  # the actor is gone
                if call is None:
                    continue
                task = asyncio.create_task(self._serve_call(actor, call))
                calls.add(task)
                task.add_done_callback(calls.discard)
        finally:
            for task in calls:
                task.cancel()

    async def _serve_call(self, actor: Any, call: dict[str, Any]) -> None:
        bridge = self._bridge
        if bridge is None:
            reply: dict[str, Any] = {"error": {"type": "RuntimeError", "message": "no tools"}}
        else:
            name, args, kwargs = str(call["name"]), list(call["args"]), dict(call["kwargs"])
            reply = await bridge.handle(name, args, kwargs)
        with contextlib.suppress(Exception):
            await actor.answer.options(concurrency_group="tools").remote(call["id"], reply)

    def _lost(self, exc: Exception, t0: float) -> ExecResult:
        """An actor call failed: give the actor up and report a crash (or re-raise ours)."""
        cause = _cause(exc)
        if isinstance(cause, EagerError):
            raise cause  # the session itself raised (closed, could not restart): not a crash
        self._drop_actor()
        what = "did not answer in time" if isinstance(exc, TimeoutError) else "died"
        return ExecResult(
            error=ExecError(
                "BackendCrashed",
                f"the Ray actor holding the session {what} ({type(cause).__name__}: {cause}); "
                "the next execution starts a fresh actor (state lost)",
                kind="crash",
            ),
            duration_s=time.perf_counter() - t0,
        )

    def _stop_pump(self) -> None:
        pump, self._pump_task = self._pump_task, None
        if pump is not None:
            pump.cancel()

    def _drop_actor(self) -> None:
        self._stop_pump()
        actor, self._actor = self._actor, None
        if actor is not None:
            with contextlib.suppress(Exception):
                _ray().kill(actor, no_restart=True)

    async def interrupt(self) -> None:
        """Interrupt the running execution in the actor (state kept)."""
        if self._executing and self._actor is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(
                    self._actor.interrupt.options(concurrency_group="control").remote(),
                    RAY_CLOSE_TIMEOUT_S,
                )

    async def reset(self) -> None:
        """Fresh namespace in the actor's session; a fresh actor if the old one is gone."""
        actor = self._actor if self._actor is not None else await self._start_actor()
        try:
            await actor.reset.remote()
        except Exception as exc:
            if isinstance(_cause(exc), EagerError):
                raise BackendError(f"reset failed in the Ray actor: {_cause(exc)}") from exc
            self._drop_actor()
            await self._start_actor()

    async def _close(self) -> None:
        """Close the actor's session (bounded), then kill the actor (idempotent)."""
        self._stop_pump()
        actor, self._actor = self._actor, None
        if actor is None:
            return
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(actor.close.remote()), RAY_CLOSE_TIMEOUT_S)
        with contextlib.suppress(Exception):
            _ray().kill(actor, no_restart=True)


def _cause(exc: BaseException) -> BaseException:
    """The exception an actor method raised, unwrapped from Ray's ``RayTaskError``."""
    cause = getattr(exc, "cause", None)
    return cause if isinstance(cause, BaseException) else exc
