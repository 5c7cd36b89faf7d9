"""What the Jupyter kernel backend adds to the contract: script semantics, rich outputs, a kernel
found dead while pooled."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

pytest.importorskip("jupyter_client")
pytest.importorskip("ipykernel")

from eager import Backend, JupyterBackend, PoolConfig, SessionPool
from eager.backends.jupyter._protocol import Collector, parse_error


def _read(path: str) -> bytes:
    return Path(path).read_bytes()


@pytest.fixture
async def kernel(tmp_path: Path) -> AsyncIterator[Backend]:
    async with JupyterBackend(output_dir=tmp_path / "out", timeout_s=30) as backend:
        yield backend


async def test_a_bare_expression_displays_nothing_as_in_a_script(kernel: Backend) -> None:
    result = await kernel.execute("x = 6 * 7\nx\n")
    assert result.ok
    assert (result.stdout, result.outputs) == ("", ())


async def test_display_saves_html_and_lists_it(kernel: Backend, tmp_path: Path) -> None:
    code = "from IPython.display import HTML, display\ndisplay(HTML('<b>bold</b>'))\n"
    result = await kernel.execute(code)
    assert result.ok, result.error
    [output] = result.outputs
    assert output.data["text/html"] == "<b>bold</b>"
    assert output.path is not None and Path(output.path).parent == tmp_path / "out"
    assert _read(output.path) == b"<b>bold</b>"


async def test_plt_show_saves_a_png_and_figures_survive_between_invocations(
    kernel: Backend,
) -> None:
    pytest.importorskip("matplotlib")
    first = await kernel.execute("import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\n")
    assert first.ok and first.outputs == ()  # no display after each cell, as in a script
    second = await kernel.execute("plt.title('t')\nprint(len(plt.get_fignums()))\nplt.show()\n")
    assert second.ok, second.error
    assert second.stdout == "1\n"
    [figure] = second.outputs
    assert figure.path is not None and figure.path.endswith(".png")
    png = _read(figure.path)
    assert png.startswith(b"\x89PNG") and png == base64.b64decode(figure.data["image/png"])


async def test_padding_keeps_program_lines_in_a_traceback_of_a_later_chunk(
    kernel: Backend,
) -> None:
    await kernel.execute("def f(v):\n    return 1 / v\n", first_line=3)
    result = await kernel.execute("\n\nf(0)\n", first_line=40)
    assert result.error is not None
    assert result.error.lineno == 4
    assert 'File "<program>", line 42, in <module>' in result.error.traceback


async def test_execute_before_start_is_a_clear_error() -> None:
    from eager import BackendError

    with pytest.raises(BackendError, match="before start"):
        await JupyterBackend().execute("pass")


async def test_a_kernel_that_cannot_start_raises_a_start_error() -> None:
    from eager import BackendStartError

    with pytest.raises(BackendStartError, match="no-such-kernel"):
        await JupyterBackend(kernel_name="no-such-kernel").start()


def test_collector_keeps_only_its_own_messages_and_ends_at_idle() -> None:
    collector = Collector("m1")
    other = {"msg_id": "m0"}
    mine = {"msg_id": "m1"}
    collector.feed(
        {
            "header": {"msg_type": "stream"},
            "parent_header": other,
            "content": {"name": "stdout", "text": "no"},
        }
    )
    collector.feed(
        {
            "header": {"msg_type": "stream"},
            "parent_header": mine,
            "content": {"name": "stdout", "text": "yes"},
        }
    )
    assert not collector.done
    collector.feed(
        {
            "header": {"msg_type": "status"},
            "parent_header": mine,
            "content": {"execution_state": "idle"},
        }
    )
    assert collector.done
    assert collector.result(duration_s=0.0).stdout == "yes"


def test_a_kernel_restart_status_means_the_kernel_was_lost() -> None:
    collector = Collector("m1")
    collector.feed(
        {
            "header": {"msg_type": "status"},
            "parent_header": {},
            "content": {"execution_state": "restarting"},
        }
    )
    assert collector.kernel_lost == "restarting"


def test_an_ipython_formatted_error_is_parsed_without_colours() -> None:
    error = parse_error(
        {
            "ename": "ZeroDivisionError",
            "evalue": "division by zero",
            "traceback": [
                "\x1b[31mZeroDivisionError\x1b[39m",
                "\x1b[36mCell In[1], line 3\x1b[39m",
            ],
        }
    )
    assert error.lineno == 3
    assert "\x1b" not in error.traceback


async def test_a_pooled_kernel_killed_while_idle_is_not_handed_out(tmp_path: Path) -> None:
    def factory() -> JupyterBackend:
        return JupyterBackend(output_dir=tmp_path / "out", timeout_s=30)

    config = PoolConfig(size=1, max_sessions=1, preload="WARM = 'warm'\n")
    async with SessionPool(factory, config=config) as pool:
        async with pool.session() as backend:
            kernel = backend.inner  # type: ignore[attr-defined]
            assert backend.alive
        assert not backend.alive  # returned to the pool
        for _ in range(1000):  # reset in the background, then idle
            if pool.stats().idle == 1:
                break
            await asyncio.sleep(0.01)
        assert kernel.alive and kernel.pid is not None
        os.kill(kernel.pid, signal.SIGKILL)  # the OOM killer, an operator
        for _ in range(300):
            if not kernel.alive:
                break
            await asyncio.sleep(0.01)
        assert not kernel.alive
        async with pool.session() as backend:
            assert backend.inner is not kernel  # type: ignore[attr-defined]
            result = await backend.execute("print(WARM)\n")
        assert result.error is None and result.stdout == "warm\n"  # a fresh, warmed kernel
        assert pool.stats().found_dead == 1 and kernel.closed
