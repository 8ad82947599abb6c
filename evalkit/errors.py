"""Errors a user can cause, each saying what went wrong, where, and how to fix it.

The CLI prints ``str(error)`` on one line and exits with code 2. Anything that is not an
:class:`EvalkitError` is a bug and keeps its traceback.
"""

from __future__ import annotations

from pathlib import Path


class EvalkitError(Exception):
    """A problem with the user's input, reported as one line.

    Parameters
    ----------
    message
        What is wrong, as a sentence.
    path
        The file or folder it concerns.
    line, row
        Where in the file: a text line, or a spreadsheet row counted as the spreadsheet
        shows it (header is row 1).
    hint
        What the user can do about it.

    Examples
    --------
    >>> str(EvalkitError("code 'X' has no parent", path="cb.yaml", line=14, hint="Define it."))
    "cb.yaml line 14: code 'X' has no parent. Define it."
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        row: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.path = str(path) if path is not None else None
        self.line = line
        self.row = row
        self.hint = hint
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = []
        if self.path:
            where.append(self.path)
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.row is not None:
            where.append(f"row {self.row}")
        text = self.message.rstrip(".") + "."
        if where:
            text = f"{' '.join(where)}: {text}"
        if self.hint:
            text = f"{text} {self.hint.rstrip('.')}."
        # One line, always: newlines inside messages would break CLI output and logs.
        return " ".join(text.split())


class ProjectError(EvalkitError):
    """The project folder is missing, not an evalkit project, or from a newer version."""


class InputFileError(EvalkitError):
    """A source file cannot be read: wrong format, corrupt, empty, encrypted, undecodable."""


class AttributesError(EvalkitError):
    """An attributes table does not fit the files being ingested."""


class CodebookError(EvalkitError):
    """A codebook file is malformed or invalid."""


class RosterError(EvalkitError):
    """A de-identification roster is malformed or contradicts itself."""


class PacketError(EvalkitError):
    """A CAB review packet cannot be read back, or belongs to another project."""


class ExchangeError(EvalkitError):
    """A REFI-QDA project (.qdpx/.qde) is unsafe, invalid, or cannot be brought in."""
