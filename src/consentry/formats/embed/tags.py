"""Consentry's tags in audio files, with mutagen: ID3v2.4, Vorbis comments, MP4 freeform atoms.

The keys are Consentry's convention (docs/embed.md), listed in
:data:`~consentry.formats.embed.terms.TAG_KEYS`.  Writing replaces every Consentry
key and leaves every other tag as it was; only the tag block changes, never
the audio data.  Reading never raises: :func:`read_tag_values` may, and
:func:`signals_from_tags` turns odd values into problems.
"""

from __future__ import annotations

import json
import os
from typing import Mapping

from consentry.domain.terms import DECISIONS
from consentry.domain.signals import Signal, SignalProblem
from consentry.domain.usage import USES
from consentry.formats.embed.terms import (
    CAWG_USE_TO_DECISION, TAG_ISCC, TAG_KEYS, TAG_PAYLOAD, TAG_TDM_RESERVATION, TAG_TERMS_URL, TAG_TERMS_VERSION,
    TAG_USE_KEYS, TAG_WORK_ID, terms_detail,
)

__all__ = ["TAG_FORMAT", "write_tags", "read_tag_values", "signals_from_tags", "MP4_MEAN"]

#: Signal format of each tag family.
TAG_FORMAT = {"id3": "id3", "vorbis": "vorbis", "mp4": "mp4"}
MP4_MEAN = "org.consentry"
_MP4_PREFIX = f"----:{MP4_MEAN}:"
#: Longest tag value read (characters); longer ones are reported, not used.
MAX_VALUE_CHARS = 64 * 1024
_CAWG_WORDS = {k.lower(): v for k, v in CAWG_USE_TO_DECISION.items()}
#: Our ID3 USER ("terms of use") frame starts with this text.
USER_PREFIX = "AI use terms ("


def _open(path: str | os.PathLike, kind: str):
    """The mutagen file object for ``kind`` (tags created if the file has none)."""
    import mutagen
    from mutagen.aiff import AIFF
    from mutagen.flac import FLAC
    from mutagen.mp3 import MP3
    from mutagen.mp4 import MP4
    from mutagen.oggflac import OggFLAC
    from mutagen.oggopus import OggOpus
    from mutagen.oggspeex import OggSpeex
    from mutagen.oggvorbis import OggVorbis
    from mutagen.wave import WAVE

    path = os.fspath(path)
    if kind == "ogg":
        audio = mutagen.File(path, options=[OggVorbis, OggOpus, OggFLAC, OggSpeex])
        if audio is None:
            raise ValueError("an Ogg stream mutagen cannot tag (not Vorbis, Opus, FLAC or Speex)")
    else:
        audio = {"mp3": MP3, "wav": WAVE, "aiff": AIFF, "flac": FLAC, "mp4": MP4}[kind](path)
    return audio


def write_tags(path: str | os.PathLike, kind: str, family: str, values: Mapping[str, str], *,
               summary: str) -> list[tuple[str, str]]:
    """Replace Consentry's tags in the file at ``path`` (in place) with ``values``.

    Also sets the copyright/licence URL (ID3 ``WCOP``, Vorbis ``LICENSE``)
    to the terms URL when it is missing or was Consentry's; a different URL
    already there is kept.  Returns ``(what, why)`` for each thing skipped.
    """
    skipped: list[tuple[str, str]] = []
    audio = _open(path, kind)
    if audio.tags is None:
        audio.add_tags()
    tags = audio.tags
    terms_url = values[TAG_TERMS_URL]
    if family == "id3":
        from mutagen.id3 import TXXX, USER, WCOP

        previous_url = _first_text(tags.getall("TXXX:" + TAG_TERMS_URL)) or _txxx_ci(tags, TAG_TERMS_URL)
        for frame in list(tags.getall("TXXX")):
            if frame.desc.upper() in TAG_KEYS:
                tags.delall(frame.HashKey)
        for key, value in values.items():
            tags.add(TXXX(encoding=3, desc=key, text=[value]))
        existing_wcop = [f.url for f in tags.getall("WCOP")]
        if not existing_wcop or existing_wcop[0] in (previous_url, terms_url):
            tags.delall("WCOP")
            tags.add(WCOP(url=terms_url))
        else:
            skipped.append(("id3 WCOP", f"kept the existing copyright URL {existing_wcop[0]}; "
                                        f"the terms URL is in TXXX:{TAG_TERMS_URL}"))
        for frame in list(tags.getall("USER")):
            if str(frame.text).startswith(USER_PREFIX):
                tags.delall(frame.HashKey)
        tags.add(USER(encoding=3, lang="eng", text=summary))
        audio.save(v2_version=4)
    elif family == "vorbis":
        previous_url = (tags.get(TAG_TERMS_URL) or [None])[0]
        for key in TAG_KEYS:
            if key in tags:
                del tags[key]
        for key, value in values.items():
            tags[key] = [value]
        licence = tags.get("LICENSE") or []
        if not licence or licence[0] in (previous_url, terms_url):
            tags["LICENSE"] = [terms_url]
        else:
            skipped.append(("vorbis LICENSE", f"kept the existing LICENSE {licence[0][:80]!r}; "
                                              f"the terms URL is in {TAG_TERMS_URL}"))
        audio.save()
    elif family == "mp4":
        from mutagen.mp4 import AtomDataType, MP4FreeForm

        for key in [k for k in tags.keys() if k.startswith(_MP4_PREFIX)]:
            del tags[key]
        for key, value in values.items():
            tags[_MP4_PREFIX + key] = [MP4FreeForm(value.encode("utf-8"), dataformat=AtomDataType.UTF8)]
        audio.save()
    else:
        raise ValueError(f"unknown tag family {family!r}")
    return skipped


def _first_text(frames) -> str | None:
    for frame in frames:
        if frame.text:
            return str(frame.text[0])
    return None


def _txxx_ci(tags, key: str) -> str | None:
    for frame in tags.getall("TXXX"):
        if frame.desc.upper() == key and frame.text:
            return str(frame.text[0])
    return None


def read_tag_values(path: str | os.PathLike, kind: str, family: str) -> dict[str, str]:
    """Consentry's tag values in a file (keys upper case), plus ``WCOP``/``LICENSE``/``USER`` if present.

    Raises whatever mutagen raises for a damaged file, and ``ValueError``
    for a value that is not text.
    """
    audio = _open(path, kind)
    tags = audio.tags
    found: dict[str, str] = {}
    if tags is None:
        return found
    if family == "id3":
        for frame in tags.getall("TXXX"):
            key = frame.desc.upper()
            if key in TAG_KEYS and frame.text and key not in found:
                found[key] = str(frame.text[0])
        wcop = tags.getall("WCOP")
        if wcop:
            found["WCOP"] = str(wcop[0].url)
        for frame in tags.getall("USER"):
            if str(frame.text).startswith(USER_PREFIX):
                found["USER"] = str(frame.text)
    elif family == "vorbis":
        for key in (*TAG_KEYS, "LICENSE"):
            values = tags.get(key)
            if values:
                found[key] = str(values[0])
    elif family == "mp4":
        for key, values in tags.items():
            if key.startswith(_MP4_PREFIX) and values:
                name = key[len(_MP4_PREFIX):].upper()
                raw = bytes(values[0])
                try:
                    found[name] = raw.decode("utf-8")
                except UnicodeDecodeError:
                    raise ValueError(f"MP4 atom {key} is not UTF-8 text") from None
    return found


def _label(family: str, key: str) -> str:
    if family == "id3":
        return f"ID3 TXXX:{key}"
    if family == "vorbis":
        return f"Vorbis comment {key}"
    return f"MP4 atom {_MP4_PREFIX}{key}"


def signals_from_tags(values: Mapping[str, str], *, family: str, file_label: str,
                      location: str) -> tuple[list[Signal], list[SignalProblem]]:
    """Signals stated by Consentry's tags (see :func:`read_tag_values`); odd values become problems."""
    fmt = TAG_FORMAT[family]
    signals: list[Signal] = []
    problems: list[SignalProblem] = []

    def problem(key: str, why: str) -> None:
        problems.append(SignalProblem(format=fmt, source=f"unreadable signal at {_label(family, key)} in {file_label}",
                                      message=why))

    for key, value in values.items():
        if len(value) > MAX_VALUE_CHARS:
            problem(key, f"value of {len(value)} characters is longer than {MAX_VALUE_CHARS}")
    clean = {k: v for k, v in values.items() if len(v) <= MAX_VALUE_CHARS}

    payload: dict = {}
    if TAG_PAYLOAD in clean:
        try:
            parsed = json.loads(clean[TAG_PAYLOAD])
            if not isinstance(parsed, dict):
                raise ValueError("not a JSON object")
            payload = parsed
        except (ValueError, RecursionError) as exc:
            problem(TAG_PAYLOAD, f"not the JSON object Consentry writes ({str(exc)[:80]})")
    uses_detail = payload.get("uses") if isinstance(payload.get("uses"), dict) else {}

    common: dict = {}
    for key, name in ((TAG_TERMS_URL, "terms_url"), (TAG_WORK_ID, "work_id"), (TAG_TERMS_VERSION, "terms_version"),
                      (TAG_ISCC, "iscc")):
        if key in clean:
            common[name] = clean[key]
    if "WCOP" in clean:
        common["copyright_url"] = clean["WCOP"]
    if "LICENSE" in clean:
        common["license_tag"] = clean["LICENSE"]

    decisions: dict[str, str] = {}
    for use in USES:
        key = TAG_USE_KEYS[use]
        if key not in clean:
            continue
        value = clean[key].strip().lower()
        value = _CAWG_WORDS.get(value, value)  # tolerate "notAllowed"/"allowed"/"constrained"
        if value not in DECISIONS:
            problem(key, f"value {clean[key][:40]!r} is not deny, allow or license")
            continue
        decisions[use] = value
        detail = dict(common)
        detail.update(terms_detail(uses_detail.get(use)))
        signals.append(Signal(use=use, decision=value, format=fmt, source=f"{_label(family, key)} in {file_label}",
                              location=location, detail=detail))

    if TAG_TDM_RESERVATION in clean:
        raw = clean[TAG_TDM_RESERVATION].strip()
        if raw not in ("0", "1"):
            problem(TAG_TDM_RESERVATION, f"value {raw[:20]!r} is not 1 or 0")
        else:
            reserved = raw == "1"
            agrees = "tdm" in decisions and (decisions["tdm"] != "allow") == reserved
            if not agrees:
                signals.append(Signal(use="tdm", decision="deny" if reserved else "allow", format=fmt,
                                      source=f"{_label(family, TAG_TDM_RESERVATION)} in {file_label}",
                                      location=location, detail={**common, "tdm_reservation": int(raw)}))
    return signals, problems
