"""The report's Jupyter kernel: ``ipykernel`` as ``python -m ipykernel_launcher`` runs it, less
one import nobody in it needs.

``ipykernel`` imports ``jsonschema`` (through ``jupyter_client`` and ``jupyter_events``),
whose format checker imports ``rfc3987_syntax`` if installed; that package builds 38 parsers
at import, about 1.5 s of CPU in every kernel (jsonschema issue #1428), to validate the
``iri`` format, which nothing in a report kernel validates. Marking the module absent
(``sys.modules[name] = None``, Python's documented way to block an import) makes jsonschema
skip that one format. The same for ``isoduration`` (with ``arrow``: 0.02 s) and
``rfc3986_validator`` (0.013 s), for the ``duration`` and ``uri`` formats: no schema of
scalingo-audit or nbformat uses them, and only Jupyter's event meta-schema uses ``uri``
(the ``$id`` of an event schema registered with an event logger; a report registers none).
Only processes scalingo-audit owns are affected: the kernels it starts for its notebooks
(:func:`manager_class` starts this module instead of ``ipykernel_launcher``) and the
``scalingo-audit report`` command itself; a program calling ``build_report`` keeps its
imports as they are.
"""

from __future__ import annotations

import os
import queue
import sys
from pathlib import Path
from typing import Any

SKIPPED_IMPORTS = ("rfc3987_syntax", "isoduration", "rfc3986_validator")
"""Modules a report kernel never imports (see the module docstring)."""


def skip_slow_imports() -> None:
    """Block :data:`SKIPPED_IMPORTS` in this process, unless one is already imported."""
    for name in SKIPPED_IMPORTS:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]


def manager_class() -> Any:
    """:class:`ReportKernelManager`, defined on first use (jupyter_client is imported by the
    process that starts kernels, not by the kernel before it blocks the slow import)."""
    global _MANAGER
    if _MANAGER is None:
        import time

        import traitlets
        from jupyter_client.blocking import BlockingKernelClient
        from jupyter_client.manager import KernelManager

        class ReportKernelClient(BlockingKernelClient):
            """jupyter_client's client with a faster readiness check (nbclient calls it for
            every notebook: 0.2-0.4 s each, when the kernel is already up)."""

            def wait_for_ready(self, timeout: float | None = None) -> None:
                """jupyter_client's check without its fixed waits: a ``kernel_info`` reply
                on the shell channel, then a message on the output channel, which proves
                this client subscribed to it (a message published before is lost to it,
                so the request is repeated every 20 ms, not every 0.2 s); then the output
                channel is emptied of what has arrived, not of what comes within 0.2 s (a
                client reads the output of its own requests by their id)."""
                deadline = time.monotonic() + (timeout if timeout is not None else 1e9)
                while True:
                    self.kernel_info()
                    try:
                        reply = self.get_shell_msg(timeout=1)
                    except queue.Empty:
                        reply = None
                    if reply is not None and reply["msg_type"] == "kernel_info_reply":
                        try:
                            self.iopub_channel.get_msg(timeout=0.02)
                        except queue.Empty:
                            pass
                        else:
                            self._handle_kernel_info_reply(reply)  # the protocol version
                            break
                    if not self.is_alive():
                        raise RuntimeError("Kernel died before replying to kernel_info")
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"Kernel didn't respond in {timeout} seconds")
                while self.iopub_channel.msg_ready():
                    self.iopub_channel.get_msg(timeout=0)

        class ReportKernelManager(KernelManager):
            """Starts ``python -m scalingo_audit.kernel`` where the kernel spec says
            ``python -m ipykernel_launcher``; any other command is left as it is. Its
            clients are :class:`ReportKernelClient`."""

            @traitlets.default("client_factory")
            def _report_client(self) -> type:
                return ReportKernelClient

            def client(self, **kwargs: Any) -> Any:
                """A client of this kernel, kept so that :func:`stop` closes its sockets
                (nbclient leaves a kernel it did not start, and its client, open)."""
                kc = super().client(**kwargs)
                self.__dict__.setdefault("report_clients", []).append(kc)
                return kc

            def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
                cmd: list[str] = super().format_kernel_cmd(extra_arguments)
                for i in range(len(cmd) - 1):
                    if cmd[i] == "-m" and cmd[i + 1] == "ipykernel_launcher":
                        return [*cmd[: i + 1], "scalingo_audit.kernel", *cmd[i + 2 :]]
                return cmd

        _MANAGER = ReportKernelManager
    return _MANAGER


_MANAGER: Any = None


def start(*, cwd: str | Path, extra_arguments: list[str]) -> Any:
    """A report kernel started in ``cwd`` (a :func:`manager_class` manager; the process is
    spawned and this returns while it starts up). Its caller shuts it down."""
    km = manager_class()(kernel_name="python3")
    km.start_kernel(cwd=str(cwd), extra_arguments=list(extra_arguments))
    return km


def stop(km: Any) -> None:
    """Shut a kernel from :func:`start` down at once (it has nothing to flush: its notebook
    is saved by the parent), whatever state it is in."""
    for kc in km.__dict__.pop("report_clients", []):
        kc.stop_channels()
    try:
        if km.has_kernel:
            km.shutdown_kernel(now=True)
    except Exception:  # pragma: no cover (already gone)
        pass


RESET_TIMEOUT = 60.0  # seconds for a kernel to answer its reset (it may still be starting)


def reset(km: Any, *, cwd: str | Path) -> None:
    """Give a kernel from :func:`start` the state a new kernel has, before it runs its next
    notebook (:func:`fresh_namespace`, run in the kernel). What it imported stays imported,
    which is what running several notebooks in one kernel saves: a kernel start with pandas
    and plotly is ~1.3 s of CPU. A kernel that does not answer, or fails to reset, raises
    ``RuntimeError``."""
    code = (
        f"__import__('scalingo_audit.kernel').kernel.fresh_namespace({str(Path(cwd).resolve())!r})"
    )
    from jupyter_client.session import Session

    # A session of its own: a client of the manager's session has the same ZeroMQ identity
    # as every other client of it, and the kernel would send the replies meant for a client
    # still in use (nbclient's) to this one. The shell channel alone (its reply is all that
    # is read), and no wait_for_ready: a request sent while the kernel still starts is
    # queued by ZeroMQ until it answers, and wait_for_ready's check of the output channel
    # costs 0.2 s or more per new client.
    session = Session(key=km.session.key, signature_scheme=km.session.signature_scheme)
    kc = km.client(session=session)
    kc.start_channels(shell=True, iopub=False, stdin=False, hb=False, control=False)
    try:
        msg_id = kc.execute(code, silent=True, store_history=False)
        while True:
            try:
                reply = kc.get_shell_msg(timeout=RESET_TIMEOUT)
            except queue.Empty:
                raise RuntimeError("the kernel did not answer its reset") from None
            if reply.get("parent_header", {}).get("msg_id") == msg_id:
                break
        content = reply.get("content", {})
        if content.get("status") != "ok":
            raise RuntimeError(
                f"the kernel could not be reset: {content.get('ename')}: {content.get('evalue')}"
            )
    finally:
        kc.stop_channels()


def fresh_namespace(cwd: str) -> None:
    """In a kernel, between two notebooks: every name deleted (IPython's ``%reset -f``:
    variables, ``In``/``Out``, the output cache ``_``/``__``/``___``), the working directory
    ``cwd``, the execution count back to 1 (a failed cell is then named by its number in its
    own notebook). Without the ``gc.collect()`` of IPython's output-cache flush (0.09 s
    with pandas and plotly loaded, 0.6 s with an audit too): unreachable objects are freed
    by the collector's own runs, as in any cell."""
    from IPython import get_ipython

    shell: Any = get_ipython()
    os.chdir(cwd)
    hook = shell.displayhook
    full, hook.do_full_cache = hook.do_full_cache, False
    try:
        # the names, In/Out, the history (a new history session: the count restarts at 1)
        shell.reset(new_session=True)
    finally:
        hook.do_full_cache = full
    hook._ = hook.__ = hook.___ = ""  # what the flush would have let go: the last outputs


def main() -> None:
    """What ``ipykernel_launcher`` does, after :func:`skip_slow_imports`."""
    skip_slow_imports()
    if sys.path and (sys.path[0] in ("", str(Path.cwd()))):
        del sys.path[0]  # as ipykernel_launcher: the kernel's init_path adds it back
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()


if __name__ == "__main__":
    main()
