"""Progress bars on stderr for every stage of a command that can take more than a second."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from types import TracebackType
from typing import IO, TYPE_CHECKING, Never, TypeVar

if TYPE_CHECKING:
    from tqdm import tqdm

__all__ = ["StageBars"]

T = TypeVar("T")


class StageBars:
    """One bar per stage (reading, evaluating, writing), each shown once it lasts a second.

    tqdm's ``delay`` keeps quick stages silent, so a small file prints nothing; bars are
    drawn only on a terminal (``disable=None``) and removed when their stage ends, leaving
    stdout and a redirected stderr clean.

    Parameters
    ----------
    delay : float
        Seconds a stage runs before its bar appears.
    file : file object, optional
        Where bars are drawn (stderr by default).
    disable : bool or None
        None: draw only when ``file`` is a terminal.
    """

    def __init__(
        self, delay: float = 1.0, file: IO[str] | None = None, disable: bool | None = None
    ) -> None:
        self._delay = delay
        self._file = file or sys.stderr
        self._disable = disable
        self._stage: str | None = None
        self._bar: tqdm[Never] | None = None

    def _new_bar(self, stage: str, total: int | None, unit: str) -> tqdm[Never]:
        from tqdm import tqdm  # only when a command has stages to show

        self.close()
        bar: tqdm[Never] = tqdm(
            total=total,
            desc=stage,
            unit=unit,
            file=self._file,
            delay=self._delay,
            leave=False,
            disable=self._disable,
        )
        self._stage, self._bar = stage, bar
        return bar

    def __call__(self, stage: str, done: int, total: int) -> None:
        """Report ``done`` of ``total`` steps of ``stage`` (a new stage starts a new bar)."""
        bar = self._bar if stage == self._stage and self._bar is not None else None
        if bar is None:
            bar = self._new_bar(stage, total, "step")
        bar.total = total
        bar.update(done - bar.n)

    def iterate(self, items: Iterable[T], stage: str, total: int, unit: str) -> Iterator[T]:
        """Yield ``items``, counting them on a bar of their own."""
        bar = self._new_bar(stage, total, unit)
        for item in items:
            yield item
            bar.update(1)
        self.close()

    def close(self) -> None:
        """Remove the current bar."""
        if self._bar is not None:
            self._bar.close()
        self._bar = self._stage = None

    def __enter__(self) -> StageBars:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
