"""The one progress bar: rich, on stderr (so piped output stays clean), off when asked.

    with progress("judge", total=len(requests), enabled=show) as bar:
        ...
        bar.advance()          # or bar.advance(n, stats="12.3 it/s")
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


class Bar:
    """Advances a rich task; updates are grouped `every` units at a time, rich's redraw not being free."""

    def __init__(self, progress=None, task=None, every: int = 1):
        self._progress, self._task, self._every, self._pending = progress, task, every, 0

    def advance(self, n: int = 1, *, stats: str | None = None) -> None:
        if self._progress is None:
            return
        self._pending += n
        if self._pending >= self._every or stats is not None:
            fields = {} if stats is None else {"stats": stats}
            self._progress.update(self._task, advance=self._pending, **fields)
            self._pending = 0

    def flush(self) -> None:
        if self._progress is not None and self._pending:
            self._progress.update(self._task, advance=self._pending)
            self._pending = 0


@contextlib.contextmanager
def progress(label: str, total: int, *, enabled: bool = True, completed: int = 0, every: int = 1,
             stats: bool = False, transient: bool = False) -> Iterator[Bar]:
    """A bar over `total` units (starting at `completed`), with an optional free-text `stats` column."""
    from .logs import progress_enabled

    if not enabled or not progress_enabled():  # -q hides every bar
        yield Bar()
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = [TextColumn(label), BarColumn(), MofNCompleteColumn()]
    if stats:
        columns.append(TextColumn("{task.fields[stats]}"))
    columns.append(TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=transient) as p:
        bar = Bar(p, p.add_task(label, total=total, completed=completed, stats=""), every)
        try:
            yield bar
        finally:
            bar.flush()
