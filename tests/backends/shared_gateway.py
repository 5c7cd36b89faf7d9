"""One local Kernel Gateway shared by the tests of a session (it takes ~1.5 s to start).

It runs in its own thread with its own event loop, so tests on any loop can use it; pytest
stops it at the end of the session (see ``conftest.py``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading

from eager import LocalGateway

__all__ = ["shared_gateway", "stop_shared_gateway"]

#: Bound on starting or stopping the shared gateway.
GATEWAY_LIFECYCLE_TIMEOUT_S = 90.0

_lock = threading.Lock()
_state: dict[str, object] = {}


def _serve(ready: concurrent.futures.Future[tuple[str, str]]) -> None:
    async def main() -> None:
        stop = asyncio.Event()
        _state["stop"] = (asyncio.get_running_loop(), stop)
        try:
            async with LocalGateway() as gateway:
                ready.set_result((gateway.url, gateway.token))
                await stop.wait()
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(exc)
            raise

    asyncio.run(main())


def shared_gateway() -> tuple[str, str]:
    """``(url, token)`` of the session's gateway, started on first use."""
    with _lock:
        if "address" not in _state:
            ready: concurrent.futures.Future[tuple[str, str]] = concurrent.futures.Future()
            thread = threading.Thread(target=_serve, args=(ready,), daemon=True)
            thread.start()
            _state["thread"] = thread
            _state["address"] = ready.result(GATEWAY_LIFECYCLE_TIMEOUT_S)
        address: tuple[str, str] = _state["address"]  # type: ignore[assignment]
        return address


def stop_shared_gateway() -> None:
    """Stop the session's gateway if it was started."""
    with _lock:
        stopper = _state.pop("stop", None)
        thread = _state.pop("thread", None)
        _state.pop("address", None)
    if stopper is not None:
        loop, stop = stopper  # type: ignore[misc]
        loop.call_soon_threadsafe(stop.set)
    if isinstance(thread, threading.Thread):
        thread.join(GATEWAY_LIFECYCLE_TIMEOUT_S)
