"""The one place that maps backend names to factories, and the CLI options that choose one."""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from .._errors import UsageError
from ..backends._base import Backend

if TYPE_CHECKING:
    from ..backends._sandbox import SandboxPolicy

__all__ = ["BACKENDS", "add_backend_options", "make_backend", "sandbox_wanted", "session_folder"]


def sandbox_wanted(args: argparse.Namespace) -> bool:
    """``--sandbox``/``--no-sandbox`` if given, else the command's default (safe: sandboxed).

    Commands whose code comes from a model (``ask``, ``chat``, ``run --base-url``) keep the
    default True; replays of local files (``run PROGRAM``, ``demo``, ``bench``) set
    ``sandbox_default`` False.
    """
    chosen = getattr(args, "sandbox", None)
    if chosen is not None:
        return bool(chosen)
    return bool(getattr(args, "sandbox_default", True))


def _sandbox(args: argparse.Namespace) -> SandboxPolicy | None:
    """The default sandbox policy when :func:`sandbox_wanted`, else None."""
    from ..backends._sandbox import SandboxPolicy

    return SandboxPolicy() if sandbox_wanted(args) else None


def _repl(args: argparse.Namespace) -> Backend:
    from ..backends.repl._backend import ReplBackend

    return ReplBackend(cwd=args.cwd, sandbox=_sandbox(args))


def _jupyter(args: argparse.Namespace) -> Backend:
    from ..backends.jupyter._local import JupyterBackend

    return JupyterBackend(cwd=args.cwd, sandbox=_sandbox(args))


def _gateway(args: argparse.Namespace) -> Backend:
    from ..backends.jupyter._gateway import GatewayBackend

    # No URL: the backend starts a local jupyter-kernelgateway in start() and stops it in close().
    url = args.gateway_url or os.environ.get("EAGER_GATEWAY_URL") or None
    token = args.gateway_token or os.environ.get("EAGER_GATEWAY_TOKEN") or None
    return GatewayBackend(url=url, token=token, cwd=args.cwd)


def _ray(args: argparse.Namespace) -> Backend:
    from ..backends._ray import RayBackend

    # No address: join the cluster of RAY_ADDRESS if set, else start a local Ray instance.
    address = args.ray_address or os.environ.get("EAGER_RAY_ADDRESS") or None
    sandbox = _sandbox(args)  # applied on the actor's node
    return RayBackend(repl_options={"cwd": args.cwd, "sandbox": sandbox}, address=address)


#: Backend name -> factory taking the parsed CLI arguments.
BACKENDS: dict[str, Callable[[argparse.Namespace], Backend]] = {
    "repl": _repl,
    "jupyter": _jupyter,
    "gateway": _gateway,
    "ray": _ray,
}


def add_backend_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--backend`` (and the options of the backends) to a subcommand."""
    parser.add_argument(
        "--backend",
        default="repl",
        choices=sorted(BACKENDS),
        help="execution session (default: repl, a persistent Python subprocess)",
    )
    parser.add_argument(
        "--cwd",
        default=None,
        help="working folder of the session (an existing folder; default: the current folder, "
        "or with the sandbox an empty private one: --cwd . gives it the current folder)",
    )
    parser.add_argument(
        "--sandbox",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="run the session (repl, jupyter, ray) in a bubblewrap sandbox (no network, read-only "
        "system, only --cwd writable, rlimits); default: on where code comes from a model (ask, chat, "
        "run --base-url), off for replays of local files (run PROGRAM, demo, bench)",
    )
    parser.add_argument(
        "--gateway-url",
        default=None,
        metavar="URL",
        help="Kernel Gateway for --backend gateway (env EAGER_GATEWAY_URL; default: start a "
        "local jupyter-kernelgateway on 127.0.0.1 for the run)",
    )
    parser.add_argument(
        "--gateway-token",
        default=None,
        metavar="TOKEN",
        help="its auth token (env EAGER_GATEWAY_TOKEN)",
    )
    parser.add_argument(
        "--ray-address",
        default=None,
        metavar="ADDRESS",
        help="Ray cluster for --backend ray ('auto', 'ray://host:10001'; env EAGER_RAY_ADDRESS; "
        "default: a local Ray instance)",
    )


def make_backend(args: argparse.Namespace) -> Backend:
    """A fresh, unstarted backend chosen by ``args.backend`` (sandboxed as :func:`sandbox_wanted`)."""
    if args.backend == "gateway" and sandbox_wanted(args):
        raise UsageError(
            "a Kernel Gateway's kernels run where the gateway runs: Eager cannot sandbox them; "
            "use --backend repl or jupyter, or pass --no-sandbox to run without isolation"
        )
    return BACKENDS[args.backend](args)


def session_folder(
    args: argparse.Namespace, *, always: bool = True
) -> tuple[Path | None, tempfile.TemporaryDirectory[str] | None]:
    """The session's folder (``--cwd``, else a fresh temporary one) with copies of the
    ``--file`` data files in it; sets ``args.cwd``. Checked before anything is copied.

    ``always=False``: without ``--cwd`` and files, no folder is made (None: the backend's
    default, the current folder or a sandbox's private one).
    """
    from ._checks import check_folder

    check_folder(args.cwd)
    files: list[str] = getattr(args, "file", [])
    for name in files:
        if not Path(name).is_file():
            raise UsageError(f"--file {name}: no such file")
    temp = None
    if not always and not args.cwd and not files:
        return None, None
    if args.cwd:
        folder = Path(args.cwd)
    else:
        temp = tempfile.TemporaryDirectory(prefix=f"eager-{getattr(args, 'command', 'session')}-")
        folder = Path(temp.name)
    for name in files:
        src = Path(name)
        if src.resolve() != (folder / src.name).resolve():
            shutil.copy2(src, folder / src.name)
    args.cwd = str(folder)
    return folder, temp
