"""Binding a returned packet's rows to the excerpts they were made for.

Each row carries a short row code, a keyed hash of the packet, the row number, the
excerpt and the code. The project keeps the codes with the packet, so a row whose number
was changed, or that was moved under another number, is recognised when the packet comes
back. Excerpt texts are compared in a form that office programs do not change on their own
(:func:`comparable`), so a packet saved again by another program is not taken for edited.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import unicodedata
from collections.abc import Mapping
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from evalkit.cab.read import ReadRow

CHECK_LENGTH = 6  # base32 characters: 30 bits, small enough to sit under the row number
CHECK_ATTEMPTS = 8  # fresh keys tried until a packet's row codes are all different


def row_check(key: bytes, packet_id: str, ref: int | str, excerpt_id: str, code: str) -> str:
    """A row's row code: a keyed hash of the packet, the row number, the excerpt and the
    code, so a row whose number was changed, or that was moved, no longer matches.

    Examples
    --------
    >>> row_check(b"k", "p1", 3, "e9", "POLICY")
    'ndrvvw'
    >>> row_check(b"k", "p1", 4, "e9", "POLICY") != row_check(b"k", "p1", 3, "e9", "POLICY")
    True
    """
    message = "\x1f".join((packet_id, str(ref), excerpt_id, code)).encode("utf-8")
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.b32encode(digest).decode("ascii")[:CHECK_LENGTH].lower()


def row_checks(packet_id: str, items: pd.DataFrame) -> list[str]:
    """A row code per row of ``items`` (see :func:`row_check`), all different.

    The key is random and kept nowhere: the project stores the codes themselves with the
    packet, so no one can make up a code that fits another row.
    """
    checks: list[str] = []
    for _ in range(CHECK_ATTEMPTS):
        key = secrets.token_bytes(16)
        checks = [
            row_check(key, packet_id, ref, excerpt, code)
            for ref, excerpt, code in zip(
                items["ref"], items["excerpt_id"], items["code"], strict=True
            )
        ]
        if len(set(checks)) == len(checks):
            break
    return checks


# Characters that office programs add, drop or rewrite without anyone editing the words:
# soft hyphens (LibreOffice writes them as <w:softHyphen/>), zero-width spaces and joiners,
# byte-order marks; typographic quotes and non-breaking hyphens (<w:noBreakHyphen/>).
_INVISIBLE = "\u00ad\u200b\u200c\u200d\u2060\ufeff"
_FOLDS = str.maketrans(
    {
        **dict.fromkeys(_INVISIBLE, None),
        **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032", "'"),
        **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033", '"'),
        **dict.fromkeys("\u2010\u2011", "-"),
    }
)


def comparable(text: str) -> str:
    """Excerpt text as it is compared with the packet's: the same words in the same order.

    Unicode composition (NFC), every kind of whitespace and line break (spaces, tabs,
    non-breaking spaces, ``\\r``/``\\n``, paragraphs), invisible characters and the shape of
    quotes and hyphens do not count; any change of a word, a letter's case or other
    punctuation does.

    Examples
    --------
    >>> comparable("“Cafe\\u0301”\\tis\\u00a0 open\\r\\n") == comparable('"Café" is open')
    True
    >>> comparable("is open") == comparable("is not open")
    False
    """
    return " ".join(unicodedata.normalize("NFC", text).translate(_FOLDS).split())


class RowBinder:
    """Whether each returned row still asks about the excerpt and code its number was made
    for, judged by its row code and its excerpt text.

    ``items`` are the packet's stored rows (``ref, excerpt_id, code`` and, for packets made
    since rows carry one, ``check``); ``texts`` maps excerpt IDs to their text.
    """

    def __init__(self, items: list[dict], texts: Mapping[str, str]) -> None:
        self.items = {str(item["ref"]): item for item in items}
        self.checked = any(item.get("check") for item in items)
        self.by_check: dict[str, list[str]] = {}
        self.texts: dict[str, str] = {}
        self.by_text: dict[str, list[str]] = {}
        for ref, item in self.items.items():
            if item.get("check"):
                self.by_check.setdefault(item["check"], []).append(ref)
            text = texts.get(item["excerpt_id"])
            if text is not None:
                self.texts[ref] = comparable(text)
                self.by_text.setdefault(self.texts[ref], []).append(ref)

    def edited(self, row: ReadRow) -> bool:
        """The row's excerpt text is not its excerpt's (see :func:`comparable`)."""
        own = self.texts.get(row.ref)
        return own is not None and comparable(row.text) != own

    def misplaced(self, row: ReadRow) -> str | None:
        """Why the row's answer may be about another passage than its number says, or None.

        A row code that belongs to another row, or an excerpt text that is another row's,
        means the row was moved or renumbered. A row of a packet with row codes whose
        code is gone or unknown is still bound by its unchanged excerpt text, not when
        that text was changed too.
        """
        item = self.items[row.ref]
        check = row.check.strip().lower()
        if self.checked and check and check != item.get("check"):
            owners = [ref for ref in self.by_check.get(check, []) if ref != row.ref]
            if owners:
                return f"its row code {check} is that of {self._describe(owners)}"
            if self.edited(row):
                return f"its row code {check} is not this packet's and its excerpt text differs"
            return None
        if not self.edited(row):
            return None
        others = [
            ref
            for ref in self.by_text.get(comparable(row.text), [])
            if self.items[ref]["excerpt_id"] != item["excerpt_id"]
        ]
        if others:
            return f"its excerpt text is that of {self._describe(others)}"
        if self.checked and not check:
            return "its row code is missing and its excerpt text differs"
        return None

    def _describe(self, refs: list[str]) -> str:
        return " or ".join(f"No. {ref} ({self.items[ref]['code']})" for ref in refs)
