"""De-identification: names from a roster, and detectors for contact and identity details.

Participants include sex workers and trafficking survivors, so identifying details are
replaced before text is stored, coded or shared:

- **Roster** (:mod:`evalkit.deid.roster`): a CSV with ``name, pseudonym, variants, type``.
  People are replaced by their pseudonym (``[P07]``), organisations by a label
  (``[youth-serving org]``). Names match as written, in Title Case or in capitals, across
  line breaks and before a possessive; lowercase words never match, so "grace period"
  keeps its grace.
- **Detectors** (:mod:`evalkit.deid.detect`): phone numbers, e-mail addresses, URLs,
  social-media handles, street addresses, dates of birth, Social Security numbers and
  licence plates become ``[PHONE]``, ``[EMAIL]`` and so on.
- **Candidates** (:mod:`evalkit.deid.candidates`): capitalised names that the roster does
  not cover are *not* replaced blindly; :func:`candidates` lists them for a person to add
  to the roster.

Every replacement is recorded (:class:`Replacement`) so offsets in the original text can be
mapped to the de-identified text, and so the key file (:mod:`evalkit.deid.key`) can say
what was replaced. The key file holds real names: it is written outside the project folder.

This package is pure: it takes text and returns text. Applying it to a project (at every
way in, and again after the roster grew) is the workflow layer's job, in
:mod:`evalkit.project.admit` and :mod:`evalkit.project.deid`.
"""

from evalkit.deid.candidates import candidates, candidates_for, summary_by_source, token_counts
from evalkit.deid.detect import (
    DETECTORS,
    TOKENS,
    TYPES,
    Redaction,
    Replacement,
    deidentify,
    find_identifiers,
    pseudonymise_label,
)
from evalkit.deid.key import KEY_COLUMNS, default_key_path, key_rows, read_key, write_key
from evalkit.deid.remap import remap_unit, renames_for
from evalkit.deid.roster import ROSTER_COLUMNS, Roster, RosterEntry, load_roster
from evalkit.deid.score import score

__all__ = [
    "DETECTORS",
    "KEY_COLUMNS",
    "ROSTER_COLUMNS",
    "TOKENS",
    "TYPES",
    "Redaction",
    "Replacement",
    "Roster",
    "RosterEntry",
    "candidates",
    "candidates_for",
    "deidentify",
    "default_key_path",
    "find_identifiers",
    "key_rows",
    "load_roster",
    "pseudonymise_label",
    "read_key",
    "remap_unit",
    "renames_for",
    "score",
    "summary_by_source",
    "token_counts",
    "write_key",
]
