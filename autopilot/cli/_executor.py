"""Where a command's backtest and fits run: ``--executor`` and the executor it opens."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

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
    with Executor(settings) as executor:
        if not verbose:
            for name in list(logging.root.manager.loggerDict):
                if name.split(".")[0] == "distributed":
                    logging.getLogger(name).setLevel(logging.CRITICAL)
        yield executor
