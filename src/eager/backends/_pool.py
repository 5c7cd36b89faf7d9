"""A pool of warm sessions of any backend: started ahead of demand, checked out, recycled."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Hashable, Sequence
from typing import Any, TypeVar

from .._bridge import ToolBridge
from .._errors import BackendError, BackendStartError, PoolExhaustedError, UsageError
from .._result import ExecResult
from .._tools import Tool
from ._base import AsyncResource, Backend, CellStep
from ._pool_config import PoolConfig, PoolStats, ReturnPolicy

__all__ = ["CLOSE_TIMEOUT_S", "SessionPool"]

_T = TypeVar("_T")

#: Bound on closing one session (and on waiting for starts in flight) when the pool closes.
CLOSE_TIMEOUT_S = 10.0
#: Longest period between two sweeps of the idle and kept sessions (dead ones, expired keys).
SWEEP_S = 5.0


class _Lease(Backend):
    """The checked-out view of a pooled session: usable until it goes back to the pool."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.name = inner.name
        self.startup_s = inner.startup_s
        self.broken = False
        self.returned = False

    @property
    def bridge(self) -> ToolBridge | None:
        """The wrapped session's tool bridge."""
        return self.inner.bridge

    def bind_tools(self, bridge: ToolBridge | None) -> ToolBridge | None:
        """Bind tools to the wrapped session."""
        return self.inner.bind_tools(bridge)

    @property
    def alive(self) -> bool:
        """The wrapped session's, while checked out."""
        return not self.returned and super().alive and self.inner.alive

    def _check(self) -> None:
        if self.returned:
            raise BackendError("this session went back to the pool; check out another one")

    async def _start(self) -> None:
        self._check()

    async def _execute(
        self,
        code: str,
        *,
        first_line: int,
        timeout_s: float | None,
        cell: CellStep | None = None,
    ) -> ExecResult:
        self._check()
        try:
            result = await self.inner.execute(
                code, first_line=first_line, timeout_s=timeout_s, cell=cell
            )
        except BaseException:
            self.broken = True  # cancelled or failed mid-execution: the session is suspect
            raise
        if result.error is not None and result.error.kind in ("crash", "timeout"):
            self.broken = True
        return result

    async def _close(self) -> None:
        self.broken = True  # closed by its user: the pool replaces it

    async def interrupt(self) -> None:
        self._check()
        await self.inner.interrupt()

    async def reset(self) -> None:
        self._check()
        await self.inner.reset()


class SessionPool(AsyncResource):
    """Warm sessions of one backend, checked out with ``async with pool.session() as backend``.

    ``factory`` returns a new, unstarted :class:`Backend` (``lambda: ReplBackend(timeout_s=30)``).
    ``async with SessionPool(factory, config=...)`` starts ``config.size`` sessions (all of them
    ready before the body runs) and closes every session on exit, leaving no process behind.

    A checkout takes an idle session (no await on the fast path), else starts one when the
    bound allows, else waits in FIFO order, at most ``wait_timeout_s``, and only when fewer than
    ``max_waiters`` wait: past either bound it raises :class:`~eager.PoolExhaustedError`. A
    session that crashed, timed out, was closed by its user, or whose ``async with`` block
    raised (a cancelled execution, say) is closed and replaced in the background; others are
    recycled by the :data:`ReturnPolicy` in the background, so giving a session back never
    waits. ``session(key=...)`` (policy ``"keep"`` only) gives the same session, state kept, to
    every checkout with that key (one at a time) until :meth:`release`. A failed start fails the
    oldest waiter with its :class:`~eager.BackendStartError`; on demand, once a session of the
    factory has started, a failed start is tried once more first (a session killed while it
    started).
    """

    #: Leaving ``async with`` closes every session even when the caller is being cancelled.
    SHIELD_CLOSE = True

    def __init__(
        self,
        factory: Callable[[], Backend],
        *,
        config: PoolConfig | None = None,
        tools: Sequence[Tool | Callable[..., Any]] | ToolBridge | None = None,
    ) -> None:
        if not callable(factory):
            raise UsageError("factory must be a callable returning an unstarted Backend")
        self.factory = factory
        #: The host tools every session's code may call (None: none, or the factory's own).
        self.tools = tools if isinstance(tools, ToolBridge) or tools is None else ToolBridge(tools)
        self.config = config if config is not None else PoolConfig()
        self._idle: collections.deque[Backend] = collections.deque()
        self._kept: dict[Hashable, Backend] = {}  # least recently returned first
        self._kept_at: dict[Hashable, float] = {}
        self._janitor: asyncio.Task[None] | None = None
        self._held: dict[Hashable, asyncio.Event] = {}
        self._to_release: set[Hashable] = set()
        self._leases: set[_Lease] = set()
        self._waiters: collections.deque[asyncio.Future[Backend]] = collections.deque()
        self._tasks: set[asyncio.Task[None]] = set()
        self._starts: asyncio.Semaphore | None = None
        self._preparing = 0
        self._handed = 0
        self._coming = 0  # of those preparing, how many will be offered (not closing)
        self._started = self._replaced = self._failed = self._checkouts = 0
        self._evicted = self._found_dead = 0
        self._open = False
        self._closed = False

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start ``size`` sessions and wait until they are ready; raises BackendStartError."""
        if self._closed:
            raise BackendError("the pool is closed")
        if self._open:
            return
        self._open = True
        self._starts = asyncio.Semaphore(self.config.max_concurrent_starts)
        errors: list[BaseException] = []
        self._preparing += self.config.size
        self._coming += self.config.size
        await asyncio.gather(*(self._start_one(errors) for _ in range(self.config.size)))
        self._janitor = asyncio.get_running_loop().create_task(self._sweep_idle())
        if errors:
            await self.close()
            raise BackendStartError(
                f"the pool could not start its sessions: {errors[0]}"
            ) from errors[0]

    async def close(self) -> None:
        """Fail the waiters, stop the starts, close every session (bounded; idempotent)."""
        if self._closed:
            return
        self._closed = True
        if self._janitor is not None:
            self._janitor.cancel()
            await asyncio.gather(self._janitor, return_exceptions=True)
        while (waiter := self._next_waiter()) is not None:
            waiter.set_exception(BackendError("the pool was closed"))
        for held in self._held.values():
            held.set()  # checkouts waiting for a key see the pool closed
        # Starts and recycles in flight finish (and close what they made, in new tasks).
        deadline = time.monotonic() + CLOSE_TIMEOUT_S
        while self._tasks:
            remaining = deadline - time.monotonic()
            _, pending = await asyncio.wait(set(self._tasks), timeout=max(remaining, 0))
            if remaining <= 0 or pending:
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
        backends = [*self._idle, *self._kept.values(), *(lease.inner for lease in self._leases)]
        for lease in self._leases:
            lease.returned = True
        self._idle.clear()
        self._kept.clear()
        self._kept_at.clear()
        self._leases.clear()
        await asyncio.gather(*(self._close_backend(b) for b in backends))

    def stats(self) -> PoolStats:
        """The counters now, as a frozen snapshot."""
        return PoolStats(
            in_use=len(self._leases),
            idle=len(self._idle),
            kept=len(self._kept),
            preparing=self._preparing,
            waiting=sum(not w.done() for w in self._waiters),
            started=self._started,
            replaced=self._replaced,
            failed_starts=self._failed,
            checkouts=self._checkouts,
            evicted=self._evicted,
            found_dead=self._found_dead,
        )

    # ------------------------------------------------------------------ checkout

    @contextlib.asynccontextmanager
    async def session(self, *, key: Hashable | None = None) -> AsyncIterator[Backend]:
        """Check out a started session for the ``async with`` block; it goes back on exit."""
        if key is not None and self.config.on_return != "keep":
            raise UsageError("session(key=...) needs a pool with on_return='keep'")
        backend = await self._checkout(key)
        if self._closed:  # handed over while the pool was closing
            await self._close_backend(backend)
            raise BackendError("the pool was closed")
        lease = _Lease(backend)
        self._leases.add(lease)
        self._checkouts += 1
        self._top_up()
        ok = False
        try:
            yield lease
            ok = True
        finally:
            self._checkin(lease, key, ok)

    async def release(self, key: Hashable) -> None:
        """Forget ``key``: its kept session is reset and offered to anyone (now or on return)."""
        backend = self._kept.pop(key, None)
        self._kept_at.pop(key, None)
        if backend is not None:
            self._recycle(backend, "reset")
        elif key in self._held:
            self._to_release.add(key)  # for the conversation holding it now, only

    async def _checkout(self, key: Hashable | None) -> Backend:
        if self._closed or not self._open:
            raise BackendError("the pool is not open: use 'async with SessionPool(...)'")
        if key is not None:
            deadline = self._deadline()
            while (held := self._held.get(key)) is not None:  # one checkout per key at a time
                await self._wait_for(held.wait(), deadline)
                if self._closed:
                    raise BackendError("the pool was closed")
            self._held[key] = asyncio.Event()
            kept = self._kept.pop(key, None)
            self._kept_at.pop(key, None)
            if kept is not None:
                if self._alive_backend(kept):
                    return kept
                self._discard_dead(kept)  # its state is gone: a fresh session for the key
            try:
                return await self._take_live()
            except BaseException:
                self._held.pop(key).set()
                raise
        return await self._take_live()

    async def _take_live(self) -> Backend:
        """A session from :meth:`_take` that is still alive (dead ones are replaced)."""
        while True:
            backend = await self._take()
            if self._alive_backend(backend):
                return backend
            self._discard_dead(backend)

    @staticmethod
    def _alive_backend(backend: Backend) -> bool:
        """False for a session known to be dead (one that died while idle) or closed."""
        return not backend.closed and backend.alive

    def _discard_dead(self, backend: Backend) -> None:
        self._found_dead += 1
        self._replaced += 1
        self._recycle(backend, "fresh")

    def _evict(self, key: Hashable) -> None:
        """Give up the session kept for ``key``: reset, it serves anyone."""
        backend = self._kept.pop(key)
        self._kept_at.pop(key, None)
        self._evicted += 1
        self._recycle(backend, "reset")

    def _evict_expired(self) -> None:
        limit = self.config.kept_idle_s
        if limit is None or self._closed:
            return
        now = time.monotonic()
        for key in [k for k, t in self._kept_at.items() if now - t >= limit]:
            self._evict(key)

    def _replace_dead(self) -> None:
        """Replace the idle and kept sessions known to be dead (killed while idle)."""
        for backend in [b for b in self._idle if not self._alive_backend(b)]:
            self._idle.remove(backend)
            self._discard_dead(backend)
        for key in [k for k, b in self._kept.items() if not self._alive_backend(b)]:
            self._kept_at.pop(key, None)
            self._discard_dead(self._kept.pop(key))

    async def _sweep_idle(self) -> None:
        """Now and then: evict kept sessions idle for ``kept_idle_s`` (checked a few times per
        period), replace idle sessions that died (so ``stats()`` does not count them idle)."""
        kept = self.config.kept_idle_s
        period = SWEEP_S if kept is None else min(max(kept / 4, 0.05), SWEEP_S)
        while not self._closed:
            await asyncio.sleep(period)
            self._evict_expired()
            self._replace_dead()

    async def _take(self) -> Backend:
        if self._idle and not self._waiters:
            return self._idle.popleft()  # session() tops up once the lease is counted
        if self._kept and self._alive() >= self.config.limit and self._coming <= len(self._waiters):
            self._evict(next(iter(self._kept)))  # room needed: the least recently used goes
        deadline = self._deadline()
        if self.config.wait_timeout_s == 0:  # never wait for a session held by someone else
            if self._alive() >= self.config.limit and self._coming <= len(self._waiters):
                raise self._exhausted("no session is free and the pool does not wait")
            deadline = time.monotonic() + self.config.start_timeout_s
        if len(self._waiters) >= self.config.max_waiters:
            raise self._exhausted(f"{len(self._waiters)} callers wait already (max_waiters)")
        waiter: asyncio.Future[Backend] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self._top_up()
        try:
            backend = await self._wait_for(waiter, deadline)
        except BaseException:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self._handed -= 1
                self._offer(waiter.result())  # handed over just as we gave up: pass it on
            with contextlib.suppress(ValueError):
                self._waiters.remove(waiter)
            raise
        self._handed -= 1
        return backend

    def _deadline(self) -> float | None:
        timeout = self.config.wait_timeout_s
        return None if timeout is None else time.monotonic() + timeout

    async def _wait_for(self, awaitable: Awaitable[_T], deadline: float | None) -> _T:
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            async with asyncio.timeout(remaining):  # not wait_for: it can drop a cancellation
                return await awaitable
        except TimeoutError:
            raise self._exhausted(
                f"no session became free within {self.config.wait_timeout_s:g} s"
            ) from None

    def _exhausted(self, why: str) -> PoolExhaustedError:
        s = self.stats()
        return PoolExhaustedError(
            f"{why} ({s.in_use} in use, {s.kept} kept, {s.waiting} waiting, "
            f"max_sessions={self.config.limit}); raise the pool's bounds or retry later"
        )

    def _checkin(self, lease: _Lease, key: Hashable | None, ok: bool) -> None:
        lease.returned = True
        released = key is not None and key in self._to_release
        if key is not None:
            self._to_release.discard(key)  # a release applies to this conversation only
            self._held.pop(key).set()
        if lease not in self._leases:
            return  # the pool closed it already
        self._leases.discard(lease)
        backend = lease.inner
        if self._closed:
            self._spawn(self._close_backend(backend))
        elif lease.broken or not ok or backend.closed:
            self._replaced += 1
            self._recycle(backend, "fresh")
        elif key is not None and not released:
            self._kept[key] = backend  # "keep" with a key: state kept for the next turn
            self._kept_at[key] = time.monotonic()
            self._evict_expired()
            cap = self.config.max_kept
            while cap is not None and len(self._kept) > cap:
                self._evict(next(iter(self._kept)))  # least recently used first
        else:
            self._recycle(backend, "reset" if key is not None else self.config.on_return)

    # ------------------------------------------------------------------ supply

    def _alive(self) -> int:
        return (
            len(self._idle) + len(self._kept) + len(self._leases) + self._preparing + self._handed
        )

    def _top_up(self) -> None:
        """Start sessions for the waiters and the idle target, within the bound."""
        if self._closed:
            return
        want = self.config.size - len(self._idle) + len(self._waiters) - self._coming
        room = self.config.limit - self._alive()
        for _ in range(min(want, room)):
            # Counted now, not when the task first runs: a second top-up must see it.
            self._preparing += 1
            self._coming += 1
            self._spawn(self._start_one(None))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _offer(self, backend: Backend) -> None:
        """Give a ready session to the oldest waiter, else keep it idle."""
        if self._closed:
            self._spawn(self._close_backend(backend))
            return
        waiter = self._next_waiter()
        if waiter is None:
            self._idle.append(backend)
            return
        waiter.set_result(backend)
        self._handed += 1  # alive, though neither idle nor in use until it resumes

    def _next_waiter(self) -> asyncio.Future[Backend] | None:
        """The oldest waiter still waiting, taken off the queue (the given-up ones dropped)."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                return waiter
        return None

    async def _start_one(self, errors: list[BaseException] | None) -> None:
        """Start a session (and its preload) and offer it; a failure is counted and reported.

        The caller counted it in ``_preparing`` and ``_coming`` already. On demand, once the
        factory has given a working session, a failed start is tried once more before a waiter
        sees it: a session killed while it started says nothing about the next one, while a
        factory that never worked fails at once."""
        retries = 1 if errors is None and self._started > 0 else 0
        try:
            assert self._starts is not None
            async with self._starts:
                while True:
                    try:
                        backend = await self._new_session()
                        break
                    except Exception:
                        if retries == 0 or self._closed:
                            raise
                        retries -= 1
                        self._failed += 1
        except Exception as exc:
            self._failed += 1
            error = (
                exc
                if isinstance(exc, BackendStartError)
                else BackendStartError(f"a pooled session did not start: {exc!r}")
            )
            error.__cause__ = exc if error is not exc else exc.__cause__
            if errors is not None:
                errors.append(error)
            elif (waiter := self._next_waiter()) is not None:
                waiter.set_exception(error)
            return
        finally:
            self._preparing -= 1
            self._coming -= 1
        self._started += 1
        self._offer(backend)

    async def _new_session(self) -> Backend:
        """A session from the factory, started and preloaded; closed again if that fails."""
        backend = self.factory()
        try:
            if self.tools is not None:
                backend.bind_tools(self.tools)
            await asyncio.wait_for(self._warm(backend), self.config.start_timeout_s)
        except Exception:
            await self._close_backend(backend)
            raise
        except BaseException:
            await asyncio.shield(self._close_backend(backend))
            raise
        return backend

    async def _warm(self, backend: Backend) -> None:
        await backend.start()
        if self.config.preload:
            result = await backend.execute(self.config.preload)
            if result.error is not None:
                raise BackendStartError(
                    f"the pool's preload failed: {result.error.ename}: {result.error.evalue}"
                )

    def _recycle(self, backend: Backend, policy: ReturnPolicy) -> None:
        if policy == "keep":
            self._offer(backend)
            self._top_up()
        elif policy == "reset":
            self._preparing += 1
            self._coming += 1
            self._spawn(self._reset_one(backend))
        else:
            self._preparing += 1
            self._spawn(self._replace_one(backend))

    async def _reset_one(self, backend: Backend) -> None:
        try:
            await backend.reset()
        except Exception:
            self._replaced += 1
            self._coming -= 1
            await self._replace_one(backend)  # still counted in _preparing
            return
        except BaseException:
            self._preparing -= 1
            self._coming -= 1
            raise
        self._preparing -= 1
        self._coming -= 1
        self._offer(backend)

    async def _replace_one(self, backend: Backend) -> None:
        try:
            await self._close_backend(backend)
        finally:
            self._preparing -= 1
        self._top_up()

    @staticmethod
    async def _close_backend(backend: Backend) -> None:
        with contextlib.suppress(Exception, TimeoutError):
            await asyncio.wait_for(backend.close(), CLOSE_TIMEOUT_S)
