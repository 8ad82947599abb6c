"""What de-identification a project applies, and the project's memory of its roster.

Once a roster has been used, the project records where it lives and its fingerprint (a
SHA-256 of the file), and where the key file goes. Every later way in uses them by
default; a route run with no roster at all says so. Both files hold real names, so both
must live outside the project folder.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalkit.deid import Redaction, Replacement, Roster, default_key_path, deidentify, load_roster
from evalkit.deid.detect import find_identifiers, keep_longest, replace_spans
from evalkit.errors import RosterError

ROSTER_PATH, ROSTER_SHA256, KEY_PATH = "roster_path", "roster_sha256", "key_path"
NO_ROSTER = (
    "no roster was given and the project has none, so only the detectors (phones, e-mails,"
    " addresses…) ran and no names were replaced; pass --roster FILE"
)


@dataclass(frozen=True)
class Privacy:
    """The de-identification every way into one project applies, resolved once.

    Build it with :func:`privacy_for`; apply it with the ``clean_*`` methods. With
    ``deidentify`` false, everything passes through unchanged.
    """

    roster: Roster | None
    deidentify: bool
    key_path: Path
    roster_path: Path | None = None
    roster_sha256: str | None = None
    notes: tuple[str, ...] = field(default=())

    def clean_text(self, text: str) -> Redaction:
        """Prose: the roster (case-sensitive: lowercase words are never names) and every
        detector."""
        if not self.deidentify:
            return Redaction(text)
        return deidentify(text, roster=self.roster)

    def clean_value(self, value: Any) -> tuple[Any, list[Replacement]]:
        """An attribute value at any depth: strings in lists and mappings (keys too)."""
        if not self.deidentify:
            return value, []
        found: list[Replacement] = []

        def walk(item: Any) -> Any:
            if isinstance(item, str):
                redaction = deidentify(item, roster=self.roster)
                found.extend(redaction.findings)
                return redaction.text
            if isinstance(item, dict):
                return {walk(k) if isinstance(k, str) else k: walk(v) for k, v in item.items()}
            if isinstance(item, list | tuple | set):
                return [walk(v) for v in item]
            return item

        return walk(value), found

    def clean_name(self, name: str) -> tuple[str, list[Replacement]]:
        """A file name, a foreign name or an ID: as prose, and also with ``_ - .`` read as
        spaces and in any letter case (file names are not prose: ``maria_lopez.txt``)."""
        name = unicodedata.normalize("NFC", name)
        if not self.deidentify:
            return name, []
        # Same length as the name, so spans found in it are spans of the name itself. Both
        # readings are needed: "m.okonkwo@example.org" is an e-mail only as written.
        view = "".join(" " if c in "_-." else (u if len(u := c.upper()) == 1 else c) for c in name)
        in_view = [
            Replacement(r.start, r.end, r.type, name[r.start : r.end], r.token)
            for r in find_identifiers(view, roster=self.roster)
        ]
        spans = keep_longest([*in_view, *find_identifiers(name, roster=self.roster)])
        return unicodedata.normalize("NFC", replace_spans(name, spans).text), spans

    def clean_id(
        self, value: str, *, known: Iterable[Replacement] = ()
    ) -> tuple[str, list[Replacement]]:
        """What an ID is made from, cleaned as a name with its tokens unbracketed
        (``Maria_Lopez_interview`` -> ``P07_interview``). An ID is usually made from a name
        cleaned already: what ``known`` holds is not reported again."""
        cleaned, found = self.clean_name(value)
        seen = {r.original for r in known}
        new = [r for r in found if r.original not in seen]
        return cleaned.replace("[", "").replace("]", ""), new

    def cleaner(self) -> FreeText:
        """A collector for free text and labels (coders, authors, comments, notes): it
        cleans each one and keeps what it replaced, for the key file."""
        return FreeText(self)


@dataclass
class FreeText:
    """Cleans short texts one by one and remembers every replacement made."""

    privacy: Privacy
    found: list[Replacement] = field(default_factory=list)

    def __call__(self, text: str) -> str:
        if not text:
            return text
        redaction = self.privacy.clean_text(text)
        self.found.extend(redaction.findings)
        return redaction.text


def fingerprint(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def privacy_for(
    store,
    *,
    roster: Roster | str | Path | None = None,
    deidentify: bool = True,
    key_path: str | Path | None = None,
) -> Privacy:
    """The de-identification for one route into ``store``.

    Parameters
    ----------
    roster
        A roster file (or :class:`Roster`). Without one, the roster the project used last
        is used again, re-read from where it lives.
    deidentify
        False only for public documents: nothing is replaced.
    key_path
        Where the key file goes; without one, where the project's key went last, else
        :func:`evalkit.deid.default_key_path`.

    Raises
    ------
    RosterError
        When the roster or the key would be inside the project folder, or when the roster
        the project remembers is gone.
    """
    folder = Path(store.folder).resolve()
    notes: list[str] = []
    roster_path: Path | None = None
    if isinstance(roster, str | Path):
        roster_path = Path(roster).resolve()
        _outside(roster_path, folder, "roster")
    elif roster is None:
        remembered = store.setting(ROSTER_PATH)
        if remembered:
            roster_path = Path(remembered)
            if not roster_path.is_file():
                raise RosterError(
                    "the roster this project uses is missing",
                    path=roster_path,
                    hint="Put it back, or pass --roster with where it is now",
                )
    if roster_path is not None:
        roster = load_roster(roster_path)
        digest = fingerprint(roster_path)
        if store.setting(ROSTER_SHA256) not in (None, digest):
            notes.append(f"the roster {roster_path} changed since the project last used it")
    else:
        digest = None
    if deidentify and roster is None:
        notes.append(NO_ROSTER)
    if key_path is None:
        key_path = store.setting(KEY_PATH) or default_key_path(store.project_id)
    key_path = Path(key_path).resolve()
    _outside(key_path, folder, "key file")
    return Privacy(
        roster=roster,
        deidentify=deidentify,
        key_path=key_path,
        roster_path=roster_path,
        roster_sha256=digest,
        notes=tuple(notes),
    )


def remember(store, privacy: Privacy) -> None:
    """Record (inside the current operation) the roster and key a route used."""
    if privacy.roster_path is not None:
        remembered = {ROSTER_PATH: str(privacy.roster_path), ROSTER_SHA256: privacy.roster_sha256}
        for key, value in remembered.items():
            if store.setting(key) != value:
                store.set_setting(key, value)
    if store.setting(KEY_PATH) != str(privacy.key_path):
        store.set_setting(KEY_PATH, str(privacy.key_path))


def _outside(path: Path, folder: Path, what: str) -> None:
    if path == folder or folder in path.parents:
        raise RosterError(
            f"the {what} is inside the project folder, which must never hold real names",
            path=path,
            hint=f"Move the {what} outside the project folder (beside the key file is good)",
        )
