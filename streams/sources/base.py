"""The source seam: something that yields raw records (wire-form dicts) in publication order."""

from __future__ import annotations

import abc
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from streams.errors import ConfigError


class Source(abc.ABC):
    """A replayable input. Subclasses say which topic family they feed and read their files.

    Records are wire-form dicts (see ``streams/schemas/raw-record.v1.json``). A row the source
    cannot complete (no timestamp, say) is still yielded, without the missing field, so the
    worker dead-letters it with a reason instead of it vanishing here.
    """

    family: ClassVar[str]  # "news", "filings" or "fomc": which raw topic the records go to
    relative_path: ClassVar[str]  # the input file (or folder) under FINSENT_DATA

    def __init__(self, data_dir: Path, path: Path | None = None) -> None:
        """Read ``path`` when given, else the source's default place under ``data_dir``."""
        self.path = path if path is not None else data_dir / self.relative_path
        if not self.path.exists():
            hint = "" if path is not None else "; set FINSENT_DATA to the data folder"
            raise ConfigError(f"{type(self).__name__} needs {self.path}{hint}")

    @abc.abstractmethod
    def _read(self) -> Iterator[dict[str, Any]]:
        """Yield the file's records in file order."""

    def records(self, limit: int | None = None) -> list[dict[str, Any]]:
        """The first ``limit`` records in timestamp order (undated rows last, in file order)."""
        rows = list(self._read())
        rows.sort(key=lambda r: (r.get("published_at") is None, r.get("published_at") or ""))
        return rows if limit is None else rows[:limit]
