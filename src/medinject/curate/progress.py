"""A rich progress bar as a context manager yielding `advance(n)`; a no-op when disabled or not a terminal."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def progress_bar(label: str, total: int, *, enabled: bool = True) -> Iterator[Callable[[int], None]]:
    from ..logs import progress_enabled

    if not enabled or not progress_enabled() or not sys.stderr.isatty():
        yield lambda n=1: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=total)
        pending = 0

        def advance(n: int = 1) -> None:
            nonlocal pending
            pending += n
            if pending >= 4096:  # rich's update is not free; batch it
                bar.update(task, advance=pending)
                pending = 0

        yield advance
        bar.update(task, advance=pending)
