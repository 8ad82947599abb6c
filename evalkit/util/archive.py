"""Reading untrusted zip archives (.qdpx) without trusting their entry names or sizes.

Nothing is extracted to disk: members are read into memory with a size cap, so an entry
named ``../../etc/passwd`` could not be written anywhere even if it were allowed. Such
entries, symlinks, and archives far beyond sane sizes are refused outright, because an
archive that carries them was not made by a QDA tool.
"""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path, PurePosixPath

from evalkit.errors import EvalkitError

MAX_ENTRIES = 10_000
MAX_TOTAL_BYTES = 2_000_000_000
MAX_RATIO = 500  # text compresses about 3-10x; a bomb compresses thousands of times
RATIO_FLOOR = 1_000_000  # small members may compress well without being a bomb


class SafeArchive:
    """A zip archive whose members have been checked; read them with :meth:`read`."""

    def __init__(self, path: str | Path, error: type[EvalkitError]) -> None:
        self.path = Path(path)
        self._error = error
        if not zipfile.is_zipfile(self.path):
            raise error(
                "not a readable .qdpx (it is not a zip archive)",
                path=self.path,
                hint="Export the project again from its tool as REFI-QDA (.qdpx)",
            )
        try:
            self._zip = zipfile.ZipFile(self.path)
            infos = self._zip.infolist()
        except (zipfile.BadZipFile, OSError) as exc:
            raise error(f"the archive is damaged ({exc})", path=self.path) from None
        self._check(infos)
        self.members = {i.filename: i for i in infos if not i.is_dir()}

    def _check(self, infos: list[zipfile.ZipInfo]) -> None:
        fail = self._error
        if len(infos) > MAX_ENTRIES:
            raise fail(
                f"the archive has {len(infos):,} entries (the limit is {MAX_ENTRIES:,})",
                path=self.path,
                hint="This is not a QDA project; refusing it protects the computer",
            )
        total = 0
        for info in infos:
            name = info.filename
            parts = PurePosixPath(name.replace("\\", "/")).parts
            if name.startswith(("/", "\\")) or (parts and parts[0].endswith(":")) or ".." in parts:
                raise fail(
                    f"the archive entry '{name}' points outside the archive (zip-slip)",
                    path=self.path,
                    hint="Refused for safety; ask for a fresh export from the tool",
                )
            if stat.S_ISLNK(info.external_attr >> 16):
                raise fail(
                    f"the archive entry '{name}' is a symbolic link",
                    path=self.path,
                    hint="Refused for safety; ask for a fresh export from the tool",
                )
            total += info.file_size
            ratio = info.file_size / max(info.compress_size, 1)
            if total > MAX_TOTAL_BYTES or (info.file_size > RATIO_FLOOR and ratio > MAX_RATIO):
                raise fail(
                    f"the archive unpacks to far more than it holds ('{name}': "
                    f"{info.file_size:,} bytes from {info.compress_size:,}; a zip bomb)",
                    path=self.path,
                    hint="Refused for safety; ask for a fresh export from the tool",
                )

    def find(self, *names: str) -> str | None:
        """The member matching one of ``names``, ignoring case and a leading folder."""
        lowered = {n.lower(): n for n in self.members}
        for name in names:
            hit = lowered.get(name.lower().lstrip("/"))
            if hit is not None:
                return hit
        return None

    def read(self, name: str) -> bytes:
        info = self.members[name]
        with self._zip.open(info) as stream:
            # Do not trust the header: read at most what it declared, plus one byte.
            data = stream.read(info.file_size + 1)
        if len(data) > info.file_size:
            raise self._error(
                f"the archive entry '{name}' is larger than its header says",
                path=self.path,
                hint="Refused for safety; ask for a fresh export from the tool",
            )
        return data

    def close(self) -> None:
        self._zip.close()
