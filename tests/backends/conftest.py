"""The backends the contract suite runs against, and fixtures that start and close them.

To add a backend, add one entry to :data:`BACKEND_CASES`: a factory taking
:class:`BackendOptions`, the features it lacks (tests needing one are skipped) and the modules
it needs (an optional extra; missing ones skip its tests).
"""

from __future__ import annotations

import asyncio
import importlib.util
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import pytest

from eager import Backend, FakeBackend, MissingExtraError, ReplBackend, SandboxPolicy

#: A plain wrapper script that execs its arguments: a REPL session behind "any command".
WRAPPER = Path(__file__).with_name("wrapper.sh")

#: What a contract test may need beyond the basics. A backend lists the ones it lacks.
FEATURES = frozenset(
    {
        "crash",  # user code can kill the session (os._exit, segfault); a new one is started
        "fd_output",  # output written to fd 1/2 (os.write, os.system, C code) is captured
        "interrupt",  # interrupt() stops running code (not only a simulated delay)
        "pickle",  # classes defined by the program pickle (a real __main__ module)
        "script_argv",  # sys.argv is one entry, as for a script
        "escalation",  # code ignoring SIGINT is killed and the session restarted on timeout
        "own_process",  # the code runs in its own process (asyncio.run, signals, sys.exit)
        # output flushed just before a crash is returned (a kernel's ZMQ I/O thread may die
        # with the message still queued: Jupyter kernels lack it)
        "crash_output",
    }
)


@dataclass(frozen=True)
class BackendOptions:
    """What the contract suite may ask of every backend's factory."""

    timeout_s: float | None = 30.0
    max_output_bytes: int | None = 1_000_000
    restart_grace_s: float = 1.0


@dataclass(frozen=True)
class BackendCase:
    """How to build one backend for the contract suite."""

    factory: Callable[[BackendOptions], Backend]
    lacks: frozenset[str] = frozenset()
    requires_modules: tuple[str, ...] = field(default_factory=tuple)
    requires_executables: tuple[str, ...] = field(default_factory=tuple)


def _repl(options: BackendOptions) -> Backend:
    return ReplBackend(
        timeout_s=options.timeout_s,
        max_output_bytes=options.max_output_bytes,
        restart_grace_s=options.restart_grace_s,
    )


def _repl_sandbox(options: BackendOptions) -> Backend:
    return ReplBackend(
        timeout_s=options.timeout_s,
        max_output_bytes=options.max_output_bytes,
        restart_grace_s=options.restart_grace_s,
        # The suite's "code started" signal is a connection to a loopback listener of the
        # test: the network is the one thing opened here (the attack suite keeps it shut).
        sandbox=SandboxPolicy(network=True),
    )


def _repl_command(options: BackendOptions) -> Backend:
    return ReplBackend(
        timeout_s=options.timeout_s,
        max_output_bytes=options.max_output_bytes,
        restart_grace_s=options.restart_grace_s,
        command=("/bin/sh", str(WRAPPER)),
    )


def _fake(options: BackendOptions) -> Backend:
    return FakeBackend(timeout_s=options.timeout_s, max_output_bytes=options.max_output_bytes)


def _jupyter(options: BackendOptions) -> Backend:
    from eager import JupyterBackend

    return JupyterBackend(
        timeout_s=options.timeout_s,
        max_output_bytes=options.max_output_bytes,
        restart_grace_s=options.restart_grace_s,
    )


def _jupyter_sandbox(options: BackendOptions) -> Backend:
    from eager import JupyterBackend

    return JupyterBackend(
        timeout_s=options.timeout_s,
        max_output_bytes=options.max_output_bytes,
        restart_grace_s=options.restart_grace_s,
        sandbox=SandboxPolicy(network=True),  # for the suite's loopback "started" signal
    )


def _gateway(options: BackendOptions) -> Backend:
    from eager import GatewayBackend

    from .shared_gateway import shared_gateway

    url, token = shared_gateway()
    return GatewayBackend(
        url=url,
        token=token,
        timeout_s=options.timeout_s,
        max_output_bytes=options.max_output_bytes,
        restart_grace_s=options.restart_grace_s,
    )


def _ray(options: BackendOptions) -> Backend:
    from eager import RayBackend

    from .shared_ray import shared_ray

    shared_ray()
    return RayBackend(repl_options=asdict(options))


#: Backend name -> how to build it. Colleagues: add ``"jupyter"``, ``"gateway"`` here.
BACKEND_CASES: dict[str, BackendCase] = {
    "repl": BackendCase(_repl),
    # The protocol over stdin/stdout alone: output written just before os._exit may still sit
    # in the child's internal pipe when it dies (its forwarding thread dies with it).
    "repl-sandbox": BackendCase(
        _repl_sandbox, lacks=frozenset({"crash_output"}), requires_executables=("bwrap",)
    ),
    "repl-command": BackendCase(_repl_command, lacks=frozenset({"crash_output"})),
    "fake": BackendCase(
        _fake,
        lacks=frozenset(
            {
                "crash",
                "escalation",
                "fd_output",
                "interrupt",
                "own_process",
                "pickle",
                "script_argv",
            }
        ),
    ),
    "jupyter": BackendCase(
        _jupyter,
        lacks=frozenset({"crash_output"}),
        requires_modules=("jupyter_client", "ipykernel"),
    ),
    "jupyter-sandbox": BackendCase(
        _jupyter_sandbox,
        lacks=frozenset({"crash_output"}),
        requires_modules=("jupyter_client", "ipykernel"),
        requires_executables=("bwrap",),
    ),
    "gateway": BackendCase(
        _gateway,
        lacks=frozenset({"crash_output"}),
        requires_modules=("kernel_gateway", "websockets", "jupyter_client"),
    ),
    "ray": BackendCase(_ray, requires_modules=("ray",)),
}


@pytest.fixture(scope="session", autouse=True)
def _stop_shared_gateway() -> Iterator[None]:
    """The gateway of the gateway case is shared by the session and stopped at its end."""
    yield
    from .shared_gateway import stop_shared_gateway

    stop_shared_gateway()
    from .shared_ray import stop_shared_ray

    stop_shared_ray()


#: Upper bound for start/close of a backend in a fixture.
LIFECYCLE_TIMEOUT_S = 60.0


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "needs(*features): skip for backends lacking one of these contract features"
    )


MakeBackend = Callable[..., Awaitable[Backend]]


@pytest.fixture(params=sorted(BACKEND_CASES))
def backend_name(request: pytest.FixtureRequest) -> str:
    """The name of the backend under test; skips when it lacks a needed feature or extra."""
    name: str = request.param
    case = BACKEND_CASES[name]
    for module in case.requires_modules:
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{name}: {module} is not installed")
    for exe in case.requires_executables:
        if shutil.which(exe) is None:
            pytest.skip(f"{name}: {exe} is not installed (make test installs bubblewrap)")
    for marker in request.node.iter_markers("needs"):
        unknown = set(marker.args) - FEATURES
        assert not unknown, f"unknown contract features {unknown}"
        missing = case.lacks.intersection(marker.args)
        if missing:
            pytest.skip(f"{name} lacks {', '.join(sorted(missing))}")
    return name


@pytest.fixture
def lacks(backend_name: str) -> frozenset[str]:
    """The contract features the backend under test lacks (for tests that only vary)."""
    return BACKEND_CASES[backend_name].lacks


@pytest.fixture
async def make_backend(backend_name: str) -> AsyncIterator[MakeBackend]:
    """``await make_backend(**options)``: a started backend, closed after the test."""
    made: list[Backend] = []

    async def make(**overrides: object) -> Backend:
        options = replace(BackendOptions(), **overrides)  # type: ignore[arg-type]
        backend = BACKEND_CASES[backend_name].factory(options)
        made.append(backend)
        try:
            await asyncio.wait_for(backend.start(), LIFECYCLE_TIMEOUT_S)
        except MissingExtraError as exc:
            pytest.skip(str(exc))
        return backend

    yield make
    for backend in made:
        await asyncio.wait_for(backend.close(), LIFECYCLE_TIMEOUT_S)


@pytest.fixture
async def backend(make_backend: MakeBackend) -> Backend:
    """A started backend of each kind with the default options."""
    return await make_backend()
