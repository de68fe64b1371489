"""Terminal output shared by the commands: messages on stderr, results on stdout, progress only on a terminal."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

stderr = Console(stderr=True, highlight=False)
stdout = Console(highlight=False)


def print_json(value: Any) -> None:
    """One JSON document on stdout, UTF-8, no ASCII escaping (Chinese stays readable)."""
    sys.stdout.write(json.dumps(value, ensure_ascii=False, sort_keys=False) + "\n")
    sys.stdout.flush()


def error(message: str) -> None:
    stderr.print(f"[bold red]错误 error:[/] {message}", markup=True, soft_wrap=True)


@contextmanager
def byte_progress(description: str, total: int, *, enabled: bool = True) -> Iterator[Callable[[int], None]]:
    """Yield an ``advance(bytes)`` callback that drives a progress bar with speed and time left.

    The bar appears only when stderr is a terminal (and ``enabled``); otherwise the callback does nothing, so
    scripts and logs get no control characters.
    """
    if not (enabled and stderr.is_terminal and total > 0):
        yield lambda _count: None
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(binary_units=True),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=stderr, transient=True) as progress:
        task = progress.add_task(description, total=total)
        yield lambda count: progress.advance(task, count)


class FileProgress:
    """Callbacks for a files-and-bytes progress bar: ``bytes(n)`` as data is read, ``file()`` after each file."""

    def __init__(self, progress: Progress | None = None, task: Any = None, label: str = "", files: int = 0) -> None:
        self._progress, self._task, self._label, self._files, self._done = progress, task, label, files, 0

    def bytes(self, count: int) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, count)

    def file(self) -> None:
        self._done += 1
        if self._progress is not None:
            self._progress.update(self._task, description=f"{self._label} {self._done}/{self._files}")


@contextmanager
def file_progress(description: str, files: int, total: int, *, enabled: bool = True) -> Iterator[FileProgress]:
    """A bar of bytes (with speed and time left) labelled with files done, on a terminal; silent otherwise."""
    if not (enabled and stderr.is_terminal and files > 0):
        yield FileProgress()
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(binary_units=True),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=stderr, transient=True) as progress:
        task = progress.add_task(f"{description} 0/{files}", total=total)
        yield FileProgress(progress, task, description, files)
