"""Reading untrusted zip archives (.docx, .xlsx, .qdpx) without trusting their entries.

Every zip-based format evalkit reads goes through one guard, :func:`check_zip` (or
:class:`SafeArchive`, which keeps the archive open to read members from). It decides from
the central directory alone, before anything is parsed or inflated:

- how many entries there are (:data:`MAX_ENTRIES`, :data:`MAX_TOTAL_ENTRIES`);
- how much the entries inflate to, all together (:data:`MAX_INFLATED_BYTES`);
- how far one entry, and the archive as a whole, inflates beyond what it stores
  (:data:`MAX_MEMBER_RATIO`, :data:`MAX_ARCHIVE_RATIO`, both above :data:`RATIO_FLOOR`);
- whether an entry name points outside the archive (zip-slip), is a symbolic link, or is
  encrypted.

The declared sizes can be trusted this far because :mod:`zipfile`, which python-docx,
openpyxl and this module all read through, stops inflating a member at its declared size
and then fails its CRC check. An archive nested in another (a .docx inside a .qdpx, an
embedded workbook inside a .docx) is read into memory, within the bounds already checked,
and inspected the same way up to :data:`MAX_NESTING` deep; its entries and inflated size
count toward the outermost archive's totals.

Nothing is extracted to disk: members are read into memory with a size cap, so an entry
named ``../../etc/passwd`` could not be written anywhere even if it were allowed.
"""

from __future__ import annotations

import io
import lzma
import stat
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import NoReturn

from evalkit.errors import EvalkitError

# Measured (see README "Bounds on input"): a 317-page .docx inflates to 3.2 MB, a
# 20,000-response, 69-question survey .xlsx to 91 MB, the real .qdpx exports to 0.2 MB.
MAX_ENTRIES = 10_000  # in one archive; a .docx has about 20, an .xlsx about 10 plus sheets
MAX_TOTAL_ENTRIES = 100_000  # counting every archive nested inside
MAX_INFLATED_BYTES = 256_000_000  # everything inflated, nested archives included
# Real XML compresses 3-33 times (a Word template's styles part is the most, 32x); deflate
# reaches about 1,030 times on a bomb's repeated bytes.
MAX_MEMBER_RATIO = 200
MAX_ARCHIVE_RATIO = 100  # the whole archive mixes parts, so it compresses less than its best
RATIO_FLOOR = 65_536  # smaller members (and archives) may compress as they like
MAX_NESTING = 3  # a .qdpx holding a .docx holding an embedded .xlsx is 2 deep
NESTED_SUFFIXES = (
    ".zip",
    ".qdpx",
    ".docx",
    ".docm",
    ".dotx",
    ".xlsx",
    ".xlsm",
    ".pptx",
    ".odt",
    ".ods",
    ".odp",
    ".epub",
)
ZIP_MAGIC = b"PK\x03\x04"

# What zipfile raises for a damaged archive or member: a bad header or CRC, a corrupt
# deflate/bzip2/lzma stream, a truncated file, a seek before its start, an unknown method.
_UNREADABLE = (
    zipfile.BadZipFile,
    zlib.error,
    lzma.LZMAError,
    EOFError,
    OSError,
    NotImplementedError,
)

# What openpyxl, python-docx, pandas, lxml and zipfile raise on a damaged or truncated
# office file whose archive passed the guard: a part missing, not XML, or not the XML the
# library expects. Readers catch these around the parse and say the file is unreadable.
DAMAGED_FILE_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    KeyError,
    ValueError,
    TypeError,
    IndexError,
    AttributeError,
    EOFError,
    OSError,
    SyntaxError,  # lxml's XMLSyntaxError and ElementTree's ParseError
)

SAFETY_HINT = "Refused for safety; ask for the file again, saved by the program that made it"


def check_zip(
    path: str | Path, *, error: type[EvalkitError], kind: str, hint: str | None = None
) -> None:
    """Refuse a zip-based file that breaks a bound, before any reader parses it.

    A file that is not a zip archive at all passes: the reader that opens it next knows
    what it should have been and says so.

    Parameters
    ----------
    path
        The .docx, .xlsx or other zip-based file.
    error
        The :class:`EvalkitError` subclass to raise, e.g. ``InputFileError``.
    kind
        What the file is, for messages: ``".docx"``, ``"spreadsheet"``.
    hint
        What the user can do, for a damaged archive; bounds have their own hint.

    Raises
    ------
    EvalkitError
        Of class ``error``, naming the bound and its value.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder) / "bomb.docx"
    ...     with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
    ...         archive.writestr("word/document.xml", bytes(10_000_000))
    ...     check_zip(path, error=EvalkitError, kind=".docx")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    evalkit.errors.EvalkitError: ...bomb.docx: the entry ... the limit MAX_MEMBER_RATIO is 200, ...
    """
    path = Path(path)
    if not zipfile.is_zipfile(path):
        return
    try:
        archive = zipfile.ZipFile(path)
    except _UNREADABLE as exc:
        raise error(
            f"not a readable {kind}: the archive is damaged ({_reason(exc)})", path=path, hint=hint
        ) from None
    with archive:
        _Inspection(path, error, kind, hint).archive(archive, chain=())


class SafeArchive:
    """A zip archive whose members have been checked; read them with :meth:`read`."""

    def __init__(
        self,
        path: str | Path,
        error: type[EvalkitError],
        *,
        kind: str = ".qdpx",
        hint: str = "Export the project again from its tool as REFI-QDA (.qdpx)",
    ) -> None:
        self.path = Path(path)
        self._inspection = _Inspection(self.path, error, kind, hint)
        if not zipfile.is_zipfile(self.path):
            raise error(f"not a readable {kind} (it is not a zip archive)", path=path, hint=hint)
        try:
            self._zip = zipfile.ZipFile(self.path)
        except _UNREADABLE as exc:
            raise error(
                f"the archive is damaged ({_reason(exc)})", path=self.path, hint=hint
            ) from None
        try:
            infos = self._inspection.archive(self._zip, chain=())
        except EvalkitError:
            self._zip.close()
            raise
        self.members = {i.filename: i for i in infos if not i.is_dir()}

    def find(self, *names: str) -> str | None:
        """The member matching one of ``names``, ignoring case and a leading folder."""
        lowered = {n.lower(): n for n in self.members}
        for name in names:
            hit = lowered.get(name.lower().lstrip("/"))
            if hit is not None:
                return hit
        return None

    def read(self, name: str) -> bytes:
        return self._inspection.read(self._zip, self.members[name], chain=())

    def close(self) -> None:
        self._zip.close()


class _Inspection:
    """One guarded look at an archive and everything nested in it."""

    def __init__(self, path: Path, error: type[EvalkitError], kind: str, hint: str | None) -> None:
        self.path = path
        self.error = error
        self.kind = kind
        self.hint = hint
        # Running totals over the archive and every archive nested in it.
        self.entries = 0
        self.inflated = 0

    def fail(self, message: str, hint: str = SAFETY_HINT) -> NoReturn:
        raise self.error(message, path=self.path, hint=hint)

    def archive(self, archive: zipfile.ZipFile, chain: tuple[str, ...]) -> list[zipfile.ZipInfo]:
        """Check one archive's central directory, then the archives nested in it."""
        infos = archive.infolist()
        inside = f" {_where(chain)}" if chain else ""
        if len(infos) > MAX_ENTRIES:
            self.fail(
                f"the archive{inside} has {len(infos):,} entries;"
                f" the limit MAX_ENTRIES is {MAX_ENTRIES:,}"
            )
        self.entries += len(infos)
        if self.entries > MAX_TOTAL_ENTRIES:
            self.fail(
                f"the {self.kind} has {self.entries:,} entries counting the archives"
                f" inside it; the limit MAX_TOTAL_ENTRIES is {MAX_TOTAL_ENTRIES:,}"
            )
        for info in infos:
            self._entry(info, chain)
        inflated = sum(i.file_size for i in infos)
        packed = sum(i.compress_size for i in infos)
        self.inflated += inflated
        if self.inflated > MAX_INFLATED_BYTES:
            counting = (
                f" counting the archive {_where(chain)} ({inflated:,} bytes)" if chain else ""
            )
            self.fail(
                f"the {self.kind} inflates to {self.inflated:,} bytes{counting};"
                f" the limit MAX_INFLATED_BYTES is {MAX_INFLATED_BYTES:,}",
                hint="This is far more than any file evalkit reads; if it is genuine,"
                " split it into smaller files",
            )
        for info in infos:
            ratio = info.file_size / max(info.compress_size, 1)
            if info.file_size > RATIO_FLOOR and ratio > MAX_MEMBER_RATIO:
                self.fail(
                    f"the entry {_where((*chain, info.filename))} inflates {ratio:,.0f} times"
                    f" ({info.file_size:,} bytes from {info.compress_size:,}); the limit"
                    f" MAX_MEMBER_RATIO is {MAX_MEMBER_RATIO}, so this is a zip bomb"
                )
        ratio = inflated / max(packed, 1)
        if inflated > RATIO_FLOOR and ratio > MAX_ARCHIVE_RATIO:
            self.fail(
                f"the archive{inside} inflates {ratio:,.0f} times as a whole ({inflated:,}"
                f" bytes from {packed:,} in {len(infos):,} entries); the limit"
                f" MAX_ARCHIVE_RATIO is {MAX_ARCHIVE_RATIO}, so this is a zip bomb"
            )
        for info in infos:
            if not info.is_dir() and self._is_archive(archive, info, chain):
                self._nested(archive, info, chain)
        return infos

    def _entry(self, info: zipfile.ZipInfo, chain: tuple[str, ...]) -> None:
        name = info.filename
        parts = PurePosixPath(name.replace("\\", "/")).parts
        where = _where((*chain, name))
        if name.startswith(("/", "\\")) or (parts and parts[0].endswith(":")) or ".." in parts:
            self.fail(f"the archive entry {where} points outside the archive (zip-slip)")
        if stat.S_ISLNK(info.external_attr >> 16):
            self.fail(f"the archive entry {where} is a symbolic link")
        if info.flag_bits & 0x1:
            self.fail(
                f"the archive entry {where} is encrypted",
                hint="Remove the password in the program that made it and save it again",
            )

    def _is_archive(
        self, archive: zipfile.ZipFile, info: zipfile.ZipInfo, chain: tuple[str, ...]
    ) -> bool:
        if info.filename.lower().endswith(NESTED_SUFFIXES):
            return True
        if info.file_size < len(ZIP_MAGIC):
            return False
        return self.read(archive, info, chain, limit=len(ZIP_MAGIC)) == ZIP_MAGIC

    def _nested(
        self, archive: zipfile.ZipFile, info: zipfile.ZipInfo, chain: tuple[str, ...]
    ) -> None:
        inner = (*chain, info.filename)
        if len(inner) > MAX_NESTING:
            self.fail(
                f"{_where(inner)} is an archive nested {len(inner)} deep;"
                f" the limit MAX_NESTING is {MAX_NESTING}"
            )
        data = self.read(archive, info, chain)
        try:
            nested = zipfile.ZipFile(io.BytesIO(data))
        except _UNREADABLE:
            # Not a zip after all (or a broken one): nothing here can unpack it either.
            return
        with nested:
            self.archive(nested, inner)

    def read(
        self,
        archive: zipfile.ZipFile,
        info: zipfile.ZipInfo,
        chain: tuple[str, ...],
        limit: int | None = None,
    ) -> bytes:
        """The member's bytes (the first ``limit`` of them), never more than it declared."""
        try:
            with archive.open(info) as stream:
                if limit is not None:
                    return stream.read(limit)
                # Do not trust the header: read at most what it declared, plus one byte.
                data = stream.read(info.file_size + 1)
        except _UNREADABLE as exc:
            self.fail(
                f"the archive entry {_where((*chain, info.filename))} cannot be read"
                f" ({_reason(exc)})",
                hint=self.hint or "The file is damaged; save it again in the program that made it",
            )
        if len(data) > info.file_size:
            self.fail(
                f"the archive entry {_where((*chain, info.filename))} is larger than its"
                " header says"
            )
        return data


def _where(chain: tuple[str, ...]) -> str:
    """``'word/document.xml' inside 'sources/a.docx'``: innermost first."""
    return " inside ".join(f"'{name}'" for name in reversed(chain))


def _reason(exc: Exception) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def malformed_part(path: str | Path) -> str | None:
    """Which XML part of a zip package does not parse, said for an error message, or None.

    Readers such as python-docx do not say which part failed; this parses each ``.xml``
    and ``.rels`` part again (call it after :func:`check_zip`, which bounds their sizes)
    and names the first that is not well-formed or declares a DTD.
    """
    from xml.etree.ElementTree import ParseError

    import defusedxml.ElementTree as SafeET
    from defusedxml import DefusedXmlException

    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if not info.filename.endswith((".xml", ".rels")):
                    continue
                try:
                    SafeET.fromstring(archive.read(info), forbid_dtd=True)
                except DefusedXmlException:
                    return (
                        f"the part '{info.filename}' declares a DTD or entities, which is refused"
                    )
                except ParseError as exc:
                    line, column = getattr(exc, "position", (None, None))
                    return (
                        f"the part '{info.filename}' is not well-formed XML (line {line},"
                        f" column {column}); the file is damaged or was cut short"
                    )
    except DAMAGED_FILE_ERRORS:
        return None
    return None

