"""The sandbox policy, its bwrap command line (pure), and the scrubbed session environment."""

from __future__ import annotations

import glob
import os
import shutil
import sys
import tempfile

import pytest

from eager import BackendStartError, ReplBackend, SandboxPolicy, UsageError, scrub_env
from eager.backends._env import looks_secret, session_env
from eager.backends._sandbox import bwrap_argv, python_paths, system_view

SYSTEM = {"/usr": "dir", "/bin": "usr/bin", "/etc/passwd": "file"}


def argv(policy: SandboxPolicy | None = None, **kw: object) -> list[str]:
    options: dict[str, object] = {
        "bwrap": "/usr/bin/bwrap",
        "work_dir": "/tmp/s/work",
        "python_paths": ["/root/.pyenv/versions/3.11.7", "/opt/venv"],
        "system_paths": SYSTEM,
        "as_root": True,
        "uid": 1234567,
    }
    options.update(kw)
    return bwrap_argv(policy or SandboxPolicy(), **options)  # type: ignore[arg-type]


def pairs(args: list[str], flag: str) -> list[str]:
    return [args[i + 1] for i, a in enumerate(args) if a == flag]


def test_defaults_shut_the_network_and_every_namespace() -> None:
    args = argv()
    for flag in ("--unshare-net", "--unshare-pid", "--unshare-ipc", "--die-with-parent"):
        assert flag in args
    assert "--new-session" in args
    assert "--unshare-net" not in argv(SandboxPolicy(network=True))


def test_the_system_and_python_are_read_only_and_the_work_folder_writable() -> None:
    args = argv()
    assert set(pairs(args, "--ro-bind")) == {
        "/usr",
        "/etc/passwd",
        "/root/.pyenv/versions/3.11.7",
        "/opt/venv",
    }
    assert pairs(args, "--bind") == ["/tmp/s/work"]
    assert args[args.index("--symlink") + 1 : args.index("--symlink") + 3] == ["usr/bin", "/bin"]
    # The private /tmp comes before the work folder inside it, and folders on the way are
    # made traversable (a bind inside /root must be reachable by an unprivileged uid).
    assert args.index("/tmp") < args.index("/tmp/s/work")
    assert "/root" in pairs(args, "--dir") and "/tmp/s" in pairs(args, "--dir")
    assert pairs(args, "--chdir") == ["/tmp/s/work"]


def test_home_and_other_folders_are_not_bound() -> None:
    args = argv()
    bound = pairs(args, "--ro-bind") + pairs(args, "--bind")
    assert not any(p in ("/", "/home", "/root", "/work") for p in bound)


def test_extra_paths_open_up_on_purpose_and_nested_read_only_paths_merge() -> None:
    policy = SandboxPolicy(read_only_paths=("/data", "/opt/venv/lib"), writable_paths=("/out",))
    args = argv(policy)
    assert "/data" in pairs(args, "--ro-bind")
    assert "/opt/venv/lib" not in pairs(args, "--ro-bind")  # inside /opt/venv already
    assert pairs(args, "--bind") == ["/out", "/tmp/s/work"]


def test_as_root_the_code_runs_as_an_unprivileged_uid_without_capabilities() -> None:
    args = argv()
    assert args[args.index("--cap-drop") + 1] == "ALL"
    tail = args[args.index("--") + 1 :]
    assert tail[:4] == ["/usr/bin/setpriv", "--reuid=1234567", "--regid=1234567", "--clear-groups"]
    other = argv(as_root=False)
    assert "--unshare-user" in other and "/usr/bin/setpriv" not in other


def test_limits_are_hard_limits_and_none_lifts_them() -> None:
    policy = SandboxPolicy(memory_bytes=1 << 30, max_processes=10, file_size_bytes=1 << 20)
    args = argv(policy, nproc_base=5)
    assert "--as=1073741824:1073741824" in args
    assert "--nproc=15:15" in args
    assert "--fsize=1048576:1048576" in args
    lifted = SandboxPolicy(
        memory_bytes=None, max_processes=None, file_size_bytes=None, open_files=None
    )
    assert "/usr/bin/prlimit" not in argv(lifted)
    assert args[-1] == "--"


@pytest.mark.parametrize(
    "bad",
    [
        {"memory_bytes": 0},
        {"cpu_s": -1},
        {"max_processes": True},
        {"read_only_paths": "/data"},
        {"writable_paths": ("relative",)},
        {"uid": 0},
    ],
)
def test_a_bad_policy_is_a_usage_error(bad: dict[str, object]) -> None:
    with pytest.raises(UsageError):
        SandboxPolicy(**bad)  # type: ignore[arg-type]


def test_python_paths_cover_this_interpreter_and_its_site_packages() -> None:
    paths = python_paths(sys.executable)
    import site

    for needed in [sys.prefix, sys.base_prefix, *site.getsitepackages()]:
        assert any(
            os.path.realpath(needed).startswith(p.rstrip("/") + "/")
            or os.path.realpath(needed) == p
            for p in paths
        ), needed
    assert "/" not in paths


def test_system_view_tells_folders_files_and_links_apart(tmp_path: os.PathLike[str]) -> None:
    base = os.fspath(tmp_path)
    os.mkdir(os.path.join(base, "d"))
    open(os.path.join(base, "f"), "w").close()
    os.symlink("d", os.path.join(base, "l"))
    view = system_view([os.path.join(base, n) for n in ("d", "f", "l", "missing")])
    assert list(view.values()) == ["dir", "file", "d"]


# ---------------------------------------------------------------------------- environment


@pytest.mark.parametrize(
    "name",
    [
        "OPENAI_API_KEY",
        "GITHUB_TOKEN",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "DB_PASSWORD",
        "HF_TOKEN",
        "SSH_AUTH_SOCK",
        "MY_SECRET",
        "KG_AUTH_TOKEN",
    ],
)
def test_names_that_look_secret_are_recognised(name: str) -> None:
    assert looks_secret(name)


def test_the_scrubbed_environment_keeps_harmless_names_only() -> None:
    environ = {
        "PATH": "/usr/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C",
        "OPENAI_API_KEY": "sk-x",
        "LC_SECRET_TOKEN": "x",
        "UNRELATED": "1",
    }
    assert scrub_env(environ) == {"PATH": "/usr/bin", "LANG": "C.UTF-8", "LC_ALL": "C"}


def test_variables_passed_on_purpose_go_through(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-parent")
    env = session_env({"DATA_TOKEN": "given"})
    assert env["DATA_TOKEN"] == "given" and "OPENAI_API_KEY" not in env
    with pytest.raises(UsageError):
        session_env({"X": 1})  # type: ignore[dict-item]


async def test_an_unsandboxed_session_does_not_inherit_secrets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-parent-secret")
    monkeypatch.setenv("EAGER_TEST_TOKEN", "tok")
    async with ReplBackend(env={"GIVEN": "yes"}) as b:
        result = await b.execute("import os\nprint(sorted(os.environ))\n")
    assert "OPENAI_API_KEY" not in result.stdout and "EAGER_TEST_TOKEN" not in result.stdout
    assert "'GIVEN'" in result.stdout and "'PATH'" in result.stdout


# ---------------------------------------------------------------------------- set-up errors


async def test_without_bwrap_the_start_fails_with_what_to_do(tmp_path: os.PathLike[str]) -> None:
    backend = ReplBackend(sandbox=SandboxPolicy(bwrap="/nonexistent/bwrap"), cwd=tmp_path)
    with pytest.raises(BackendStartError, match=r"bubblewrap.*--no-sandbox"):
        await backend.start()
    await backend.close()


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bwrap is not installed")
async def test_a_sandbox_that_cannot_be_created_says_why(tmp_path: os.PathLike[str]) -> None:
    # An argument bwrap refuses stands for a kernel that refuses namespaces: one clear error.
    policy = SandboxPolicy(extra_bwrap_args=("--no-such-option",))
    backend = ReplBackend(sandbox=policy, cwd=tmp_path)
    with pytest.raises(BackendStartError, match=r"sandbox.*could not be created") as info:
        await backend.start()
    assert "no-such-option" in str(info.value)
    # Not closed (as after a failed `async with`): the work folder is given back already.
    assert os.stat(tmp_path).st_uid == os.getuid()
    # This process's state folders only: other test workers start sandboxes meanwhile.
    mine = os.path.join(tempfile.gettempdir(), f"eager-sandbox-{os.getpid()}-*")
    before = set(glob.glob(mine))
    private = ReplBackend(sandbox=policy)
    with pytest.raises(BackendStartError):
        await private.start()
    # Its private folder is gone with the failed start.
    assert set(glob.glob(mine)) <= before


def test_sandbox_and_command_are_exclusive() -> None:
    with pytest.raises(UsageError):
        ReplBackend(sandbox=SandboxPolicy(), command=("env",))
    with pytest.raises(UsageError):
        ReplBackend(command="ssh host")


async def test_a_local_gateways_kernels_see_neither_its_token_nor_our_secrets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("kernel_gateway")
    from eager import GatewayBackend, LocalGateway

    monkeypatch.setenv("OPENAI_API_KEY", "sk-parent-secret")
    async with LocalGateway() as gateway:
        assert gateway.url.startswith("http://127.0.0.1:")  # loopback only, with a token
        async with GatewayBackend(url=gateway.url, token=gateway.token) as backend:
            result = await backend.execute("import os\nprint(sorted(os.environ))\n")
    assert result.error is None, result.error
    assert "'PATH'" in result.stdout
    assert "KG_AUTH_TOKEN" not in result.stdout and "OPENAI_API_KEY" not in result.stdout
    assert gateway.token not in result.stdout


@pytest.mark.parametrize("folder", ["/", "/usr", "~", sys.prefix])
def test_a_work_folder_holding_the_system_or_home_is_refused(folder: str) -> None:
    # Checked on the set-up alone: starting would hand the folder over (chown) if it failed.
    from eager.backends._sandbox import SANDBOX_SYSTEM_PATHS
    from eager.backends._sandboxed import SandboxSetup

    setup = SandboxSetup(SandboxPolicy(), cwd=os.path.expanduser(folder), python=sys.executable)
    needed = [*system_view(SANDBOX_SYSTEM_PATHS), *python_paths(sys.executable)]
    with pytest.raises(BackendStartError, match="folder of its own"):
        setup.check_folders(needed)


def test_a_folder_of_its_own_is_accepted(tmp_path: os.PathLike[str]) -> None:
    from eager.backends._sandboxed import SandboxSetup

    setup = SandboxSetup(SandboxPolicy(), cwd=os.fspath(tmp_path), python=sys.executable)
    setup.check_folders([*system_view(), *python_paths(sys.executable)])
