"""Where a command's backtest and fits run: ``--executor`` and the executor it opens."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from autopilot.config import ExecutorSettings
from autopilot.errors import InputError
from autopilot.executor import Executor

__all__ = ["executor_settings", "opened_executor"]


def executor_settings(spec: str) -> ExecutorSettings:
    """``--executor``: ``dask://HOST:PORT`` or ``local:N`` (``local`` is one process)."""
    if spec.startswith("dask://"):
        return ExecutorSettings(kind="dask", address="tcp://" + spec.removeprefix("dask://"))
    kind, _, workers = spec.partition(":")
    if kind == "local" and (not workers or workers.isdigit()):
        return ExecutorSettings(kind="local", workers=int(workers or 1))
    raise InputError(f"--executor {spec!r}: use dask://HOST:PORT or local:N")


@contextmanager
def opened_executor(settings: ExecutorSettings, verbose: bool) -> Iterator[Executor]:
    """The command's executor, with Dask's own logs shown only under ``-v``.

    distributed's client logs its attempts to reach a lost scheduler with tracebacks; the
    executor reports the loss as one line (exit 75), so without ``-v`` those logs are noise.
    """
    with ExitStack() as stack:
        if settings.kind == "dask" and not verbose:
            stack.enter_context(_quiet_dask_logs())
        yield stack.enter_context(Executor(settings))


@contextmanager
def _quiet_dask_logs() -> Iterator[None]:
    """distributed's and tornado's loggers at CRITICAL for the block, then as they were."""
    try:
        import distributed  # noqa: F401  (it configures its loggers on import)
    except ImportError:  # the executor says how to install it
        yield
        return
    names = [
        name
        for name in list(logging.root.manager.loggerDict)
        if name.split(".")[0] in ("distributed", "tornado")
    ]
    levels = {name: logging.getLogger(name).level for name in names}
    for name in names:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
