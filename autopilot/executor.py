"""Running independent tasks here, in local processes, or on a Dask cluster, through joblib.

:class:`Executor` maps a function over a list of tasks and returns the results in the
tasks' order, whatever ran them, so the results are the same bit for bit:

* ``local`` with one worker runs them in this process;
* ``local`` with ``N`` workers in ``N`` local processes (joblib's ``loky`` backend; a large
  array argument is memory-mapped once, not copied into every task);
* ``dask`` on the ``dask.distributed`` scheduler at ``address`` (joblib's ``dask`` backend;
  the arrays named ``shared`` are scattered to the workers once). A task lost with a worker
  is run again by the scheduler; a scheduler that cannot be reached, or is lost, is an
  :class:`~autopilot.errors.ExecutorUnavailable` naming its address.

Dask is an optional extra (``pip install 'strategy-autopilot[dask]'``), imported only here
and only for ``kind: dask``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from joblib import Parallel, delayed, parallel_config

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
        """``[function(*task) for task in tasks]``, run by the executor, in the tasks' order.

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
            The Dask scheduler was lost during the tasks.
        """
        if self.settings.kind == "local" and self.settings.workers == 1:
            return _in_order(((function(*task)) for task in tasks), on_done)
        with self.joblib_backend(shared):
            results = Parallel(return_as="generator")(delayed(function)(*t) for t in tasks)
            try:
                return _in_order(results, on_done)
            except OSError as exc:  # distributed's CommClosedError and timeouts are OSErrors
                raise ExecutorUnavailable(
                    f"the dask scheduler at {self.settings.address} was lost during the "
                    f"tasks ({type(exc).__name__}: {exc}); nothing of this cycle was "
                    f"committed: run the command again once it is back"
                ) from exc

    @contextmanager
    def joblib_backend(self, shared: Sequence[Any] = ()) -> Iterator[None]:
        """Make joblib's ``Parallel`` inside the block run on this executor.

        The meta-labeler's validation folds go through it (scikit-learn's own ``n_jobs``
        follows it too); with one local worker, joblib's default: this process.
        """
        if self.settings.kind == "local" and self.settings.workers == 1:
            yield
            return
        if self.settings.kind == "dask":
            if self._client is None:
                raise RuntimeError("use the dask executor inside `with Executor(...)`")
            with parallel_config(backend="dask", client=self._client, scatter=list(shared)):
                yield
        else:
            with parallel_config(backend="loky", n_jobs=self.settings.workers):
                yield


def _in_order(results: Iterator[T], on_done: Callable[[int], None] | None) -> list[T]:
    done: list[T] = []
    for result in results:
        done.append(result)
        if on_done is not None:
            on_done(len(done))
    return done


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
    logger.info("connected to the dask scheduler at %s", address)
    return client
