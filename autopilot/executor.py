"""Running independent tasks here, in local processes (joblib), or on a Dask cluster.

:class:`Executor` maps a function over a list of tasks and returns the results in the
tasks' order, whatever ran them, so the results are the same bit for bit:

* ``local`` with one worker runs them in this process;
* ``local`` with ``N`` workers in ``N`` local processes (joblib's ``loky`` backend; a large
  array argument is memory-mapped once, not copied into every task);
* ``dask`` on the workers of the ``dask.distributed`` scheduler at ``address``: the values
  named ``shared`` are scattered to every worker once, then each task is a future. A task
  lost with a worker is run again by the scheduler; a scheduler that cannot be reached, has
  no worker, or is lost, is an :class:`~autopilot.errors.ExecutorUnavailable` naming its
  address.

The backtest's chunks and the meta-labeler's outer validation folds are mapped here. On
Dask the map uses the client's futures rather than joblib's ``dask`` backend: joblib runs
the tasks in the calling process when the cluster has a single thread, and it scatters
large arguments inside an event-loop callback, where a scheduler lost at that moment would
leave it waiting for ever; a future says why it was lost.

Dask is an optional extra (``pip install 'strategy-autopilot[dask]'``), imported only here
and only for ``kind: dask``.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import CancelledError
from typing import Any, TypeVar

from joblib import Parallel, delayed

from autopilot.config import ExecutorSettings
from autopilot.errors import ExecutorUnavailable

__all__ = ["Executor"]

logger = logging.getLogger(__name__)

T = TypeVar("T")
#: Seconds to wait for a scheduler to answer, and for its first worker.
CONNECT_TIMEOUT = 10.0


class Executor:
    """Maps tasks onto the configured executor (see the module docstring).

    Parameters
    ----------
    settings : ExecutorSettings
        The environment's ``executor:`` section (or ``--executor``).
    """

    def __init__(self, settings: ExecutorSettings | None = None) -> None:
        self.settings = settings or ExecutorSettings()
        self._client: Any = None

    def __enter__(self) -> Executor:
        if self.settings.kind == "dask":
            self._client = _connect(self.settings.address)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    @property
    def description(self) -> str:
        """What runs the tasks, for a person."""
        if self.settings.kind == "dask":
            return f"dask scheduler {self.settings.address}"
        workers = self.settings.workers
        return "this process" if workers == 1 else f"{workers} local processes"

    def map(
        self,
        function: Callable[..., T],
        tasks: Sequence[tuple[Any, ...]],
        *,
        shared: Sequence[Any] = (),
        on_done: Callable[[int], None] | None = None,
    ) -> list[T]:
        """``[function(*task) for task in tasks]``, run by the executor (see :meth:`results`)."""
        return list(self.results(function, tasks, shared=shared, on_done=on_done))

    def results(
        self,
        function: Callable[..., T],
        tasks: Sequence[tuple[Any, ...]],
        *,
        shared: Sequence[Any] = (),
        on_done: Callable[[int], None] | None = None,
    ) -> Iterator[T]:
        """``function(*task)`` for each task, run by the executor, yielded in the tasks' order.

        The caller holds each result only as long as it needs it (the backtest copies each
        chunk's returns into its matrix), not the whole list.

        Parameters
        ----------
        function : callable
            A module-level function (it is pickled by reference).
        tasks : sequence of tuple
            Each task's arguments.
        shared : sequence
            Large arguments common to every task (a price panel), sent to each worker
            once.
        on_done : callable, optional
            Called with the number of tasks done, as they finish in order.

        Raises
        ------
        ExecutorUnavailable
            The Dask scheduler was lost during the tasks, or a task killed its workers.
        """
        if self.settings.kind == "dask":
            finished = self._dask_results(function, tasks, shared)
        elif self.settings.workers == 1:
            finished = (function(*task) for task in tasks)
        else:
            run = Parallel(n_jobs=self.settings.workers, backend="loky", return_as="generator")
            finished = run(delayed(function)(*task) for task in tasks)
        for done, result in enumerate(finished, start=1):
            if on_done is not None:
                on_done(done)
            yield result

    def _dask_results(
        self, function: Callable[..., T], tasks: Sequence[tuple[Any, ...]], shared: Sequence[Any]
    ) -> Iterator[T]:
        from distributed import KilledWorker
        from distributed.client import ClosedClientError

        client = self._connected_client()
        try:
            scattered = {id(big): client.scatter(big, broadcast=True, hash=False) for big in shared}
            pending = deque(
                client.submit(function, *(scattered.get(id(a), a) for a in task), pure=False)
                for task in tasks
            )
        except Exception as exc:  # an argument that cannot be pickled is not the cluster's
            cluster = (OSError, TimeoutError, CancelledError, ClosedClientError)
            if client.status != "running" or isinstance(exc, cluster):
                raise self._lost(exc) from exc
            raise
        while pending:
            future = pending.popleft()  # released after its result: it leaves the workers
            try:
                result = future.result()
            except Exception as exc:
                client.cancel(list(pending))  # the other chunks stop running on the cluster
                pending.clear()
                if isinstance(exc, KilledWorker) or future.status != "error":
                    raise self._lost(exc) from exc
                raise  # the task's own error, as it would be raised in this process
            yield result

    def _connected_client(self) -> Any:
        if self._client is None:
            raise RuntimeError("use the dask executor inside `with Executor(...)`")
        return self._client

    def _lost(self, exc: BaseException) -> ExecutorUnavailable:
        """The cluster's failure under ``exc``, naming the scheduler."""
        from distributed import KilledWorker

        address = self.settings.address
        if isinstance(exc, KilledWorker):
            return ExecutorUnavailable(
                f"a task killed the workers of the dask cluster at {address} that ran it "
                f"({exc}); see the workers' logs (memory?) and run the command again"
            )
        reason = getattr(exc, "reason", None)  # a cancelled future's: scheduler-connection-lost
        if not isinstance(exc, CancelledError):
            reason = f"{type(exc).__name__}: {exc}"
        elif reason in (None, "unknown"):
            reason = "its tasks were cancelled"
        return ExecutorUnavailable(
            f"the dask scheduler at {address} was lost during the tasks ({reason}); "
            f"what was running committed nothing (a walk keeps the cycles it committed before): "
            f"run the command again once it is back"
        )


def _connect(address: str) -> Any:
    """A client of the scheduler at ``address``, or ExecutorUnavailable naming it."""
    try:
        from distributed import Client
    except ImportError:
        raise ExecutorUnavailable(
            "executor kind dask needs Dask: pip install 'strategy-autopilot[dask]'"
        ) from None
    try:
        client = Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise ExecutorUnavailable(
            f"the dask scheduler at {address} cannot be reached ({type(exc).__name__}: "
            f"{exc}); start it (`dask scheduler`, then `dask worker {address}`) or run "
            f"with a local executor; nothing was written"
        ) from exc
    try:
        client.wait_for_workers(1, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError) as exc:  # no worker came, or the scheduler went
        client.close()
        raise ExecutorUnavailable(
            f"the dask scheduler at {address} has no worker: start one with `dask worker "
            f"{address}`; nothing was written"
        ) from exc
    logger.info("connected to the dask scheduler at %s", address)
    return client
