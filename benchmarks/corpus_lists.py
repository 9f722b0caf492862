"""Which files of the benchmark corpus are registered and which are never-registered negatives.

One list for every benchmark script (``make_queries.py``, ``run_registration.py``,
``scale_index.py``), so that they cannot disagree.  The corpus is what
``fetch_corpus.sh`` unpacks into ``benchmarks/corpus/<package>/``:

- registered: every music file of ``wesnoth-1.16-music`` and
  ``singularity-music`` (the first corpus, 3.2 h), and of ``openarena-088-data``
  (electronic and rock; the music sits in a ``.pk3`` archive that
  ``fetch_corpus.sh`` unpacks into ``music/``), ``xmoto-data`` and
  ``frozen-bubble-data`` (issue 17), except the files named in
  :data:`NEVER_REGISTERED`;
- negatives, never registered: the Frets on Fire songs (a folder of stems each,
  summed into the song) and the files of :data:`NEVER_REGISTERED`, one song
  each.

A file counts as music when it lasts at least :data:`MIN_MUSIC_S` (the game
packages also hold short sound effects).  Which of the new packages' files are
negatives was fixed before any engine was run on them: the second and fifth
file of the sorted list of music files of ``openarena-088-data`` and
``xmoto-data``; ``frozen-bubble-data`` has three tracks only, all registered.
"""

from __future__ import annotations

from pathlib import Path

import av

AUDIO_SUFFIXES = {".ogg", ".oga", ".mp3", ".flac", ".wav", ".opus"}
MIN_MUSIC_S = 30.0

#: package -> folder (inside the unpacked package) that holds its music.
REGISTERED_PACKAGES = {
    "wesnoth-1.16-music": ".",
    "singularity-music": ".",
    "openarena-088-data": "music",
    "xmoto-data": "usr/share/games/xmoto/Textures/Musics",
    "frozen-bubble-data": "usr/share/games/frozen-bubble/snd",
}
#: Files of the registered packages that are kept out of the registry (negatives).
NEVER_REGISTERED = {
    "openarena-088-data": ("OA02.ogg", "OA08.ogg"),
    "xmoto-data": ("batcave.ogg", "menu.ogg"),
}
#: Packages whose songs are folders of stems (each folder one negative song).
STEM_PACKAGES = ("fretsonfire-songs-muldjord", "fretsonfire-songs-sectoid")


def stream_duration_s(path: Path) -> float:
    """Duration of the first audio stream from the container's header (s)."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        if stream.duration is not None:
            return float(stream.duration * stream.time_base)
        return float(container.duration or 0) / av.time_base


def _music_files(corpus: Path, package: str) -> list[Path]:
    root = corpus / package / REGISTERED_PACKAGES[package]
    if not root.is_dir():
        raise SystemExit(f"{root} is missing; run bash benchmarks/fetch_corpus.sh first")
    files = sorted(f.resolve() for f in root.rglob("*") if f.is_file() and f.suffix.lower() in AUDIO_SUFFIXES)
    return [f for f in files if stream_duration_s(f) >= MIN_MUSIC_S]


def registered_files(corpus: Path) -> list[Path]:
    """Every registered music file, sorted, absolute."""
    out = []
    for package in REGISTERED_PACKAGES:
        held = set(NEVER_REGISTERED.get(package, ()))
        out += [f for f in _music_files(corpus, package) if f.name not in held]
    return sorted(out)


def negative_sources(corpus: Path) -> list[Path]:
    """Every never-registered song: a folder of stems or a single file, sorted, absolute."""
    out: set[Path] = set()
    for package in STEM_PACKAGES:
        root = corpus / package
        if not root.is_dir():
            raise SystemExit(f"{root} is missing; run bash benchmarks/fetch_corpus.sh first")
        out |= {f.parent.resolve() for f in root.rglob("*") if f.is_file() and f.suffix.lower() in AUDIO_SUFFIXES}
    for package, names in NEVER_REGISTERED.items():
        out |= {f for f in _music_files(corpus, package) if f.name in names}
    return sorted(out)


def stems(source: Path) -> list[Path]:
    """The audio files that play together as one song (a file is its own only stem)."""
    if source.is_file():
        return [source]
    return sorted(f for f in source.iterdir() if f.is_file() and f.suffix.lower() in AUDIO_SUFFIXES)
