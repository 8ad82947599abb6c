"""WebVTT and SubRip captions (Zoom, Otter, Teams): cues merged into speaker turns."""

from __future__ import annotations

import io
import re
from pathlib import Path

from evalkit.errors import InputFileError
from evalkit.ingest.base import Extracted, normalise_newlines, require_text, timestamp_seconds
from evalkit.ingest.text import decode
from evalkit.model import Unit

# Zoom writes "Name: words" inside the cue; WebVTT proper uses <v Name>.
_INLINE_SPEAKER = re.compile(r"^(?P<speaker>[^:\n]{1,40}?):\s+(?P<rest>.*)$", re.S)
# hh:mm:ss.ttt (hours optional in WebVTT); SubRip writes a comma before the milliseconds.
_STAMP = r"(?:\d{1,3}:)?[0-5]\d:[0-5]\d[.,]\d{1,3}"
_TIMING = re.compile(rf"^\s*{_STAMP}\s*-->\s*{_STAMP}(?:\s+.*)?$")
_EXAMPLE = {"vtt": "00:01:02.500 --> 00:01:05.000", "srt": "00:01:02,500 --> 00:01:05,000"}


def read_captions(path: Path) -> list[Extracted]:
    import webvtt
    from webvtt.errors import MalformedCaptionError, MalformedFileError

    raw, warnings = decode(path.read_bytes(), path)
    raw = normalise_newlines(raw).lstrip("\ufeff")
    fmt = "srt" if path.suffix.lower() == ".srt" else "vtt"
    _check_cues(raw, fmt, path)
    try:
        captions = list(webvtt.from_buffer(io.StringIO(raw), format=fmt))
    except (MalformedFileError, MalformedCaptionError) as exc:
        raise InputFileError(
            f"not a valid {fmt.upper()} caption file ({exc})",
            path=path,
            hint=f"Re-export the transcript as {fmt.upper()} or as plain text",
        ) from None
    if not captions:
        raise InputFileError("the caption file has no cues", path=path)

    turns: list[dict] = []
    for caption in captions:
        speaker, words = caption.voice, " ".join(caption.text.split())
        if speaker is None:
            match = _INLINE_SPEAKER.match(words)
            if match and _plausible_speaker(match["speaker"]):
                speaker, words = match["speaker"].strip(), match["rest"].strip()
        if not words:
            continue
        start, end = timestamp_seconds(caption.start), timestamp_seconds(caption.end)
        if turns and (speaker is None or speaker == turns[-1]["speaker"]):
            turns[-1]["words"].append(words)
            turns[-1]["t_end"] = end
        else:
            turns.append({"speaker": speaker, "words": [words], "t_start": start, "t_end": end})

    parts: list[str] = []
    units: list[Unit] = []
    position = 0
    for turn in turns:
        label = f"{turn['speaker']}: " if turn["speaker"] else ""
        speech = " ".join(turn["words"])
        begin = position + len(label)
        units.append(
            Unit(
                start=begin,
                end=begin + len(speech),
                speaker=turn["speaker"],
                t_start=turn["t_start"],
                t_end=turn["t_end"],
            )
        )
        parts.append(label + speech)
        position += len(label) + len(speech) + 2
    text = "\n\n".join(parts)
    return [Extracted(text=require_text(text, path), units=units, warnings=warnings)]


def _check_cues(raw: str, fmt: str, path: Path) -> None:
    """Every block is a cue with a well-formed timing line, or (WebVTT) the header, a
    NOTE, STYLE or REGION block; the parser would otherwise drop a cue with a bad time,
    or glue a garbled block onto the cue before it."""
    blocks: list[tuple[int, list[str]]] = []
    current: list[str] | None = None
    for number, line in enumerate(raw.split("\n"), start=1):
        if not line.strip():
            current = None
        elif current is None:
            current = [line]
            blocks.append((number, current))
        else:
            current.append(line)
    cue = 0
    for first, block in blocks:
        head = block[0].strip()
        if fmt == "vtt" and (first == 1 or head.startswith(("WEBVTT", "NOTE", "STYLE", "REGION"))):
            continue
        cue += 1
        at = next((i for i, text in enumerate(block[:2]) if "-->" in text), None)
        if at is None:
            raise InputFileError(
                f"cue {cue} has no 'start --> end' timing line (it begins '{_clip(head)}')",
                path=path,
                line=first,
                hint=f"Each cue needs a line such as '{_EXAMPLE[fmt]}'; fix or delete the block",
            )
        if not _TIMING.match(block[at]):
            raise InputFileError(
                f"cue {cue} has a bad timing line '{_clip(block[at].strip())}'",
                path=path,
                line=first + at,
                hint=f"Write times as '{_EXAMPLE[fmt]}' (hours:minutes:seconds.milliseconds)",
            )


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _plausible_speaker(label: str) -> bool:
    words = label.split()
    return 0 < len(words) <= 4 and not label.strip().endswith((".", ",", "?"))
