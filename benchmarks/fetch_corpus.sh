#!/usr/bin/env bash
# Fetch the benchmark corpus: music that nobody on this project wrote, from
# Debian packages.
#
#   registered:  wesnoth-1.16-music, singularity-music            (~3.2 h)
#                openarena-088-data, xmoto-data, frozen-bubble-data (issue 17;
#                electronic, rock and percussive; ~0.4 h registered, and
#                four of their tracks are negatives: benchmarks/corpus_lists.py)
#   negatives:   fretsonfire-songs-muldjord, fretsonfire-songs-sectoid
#                (never registered; each song folder holds stems, song.ogg
#                and guitar.ogg, that make_queries.py mixes into the full song)
#
# openarena-data itself holds no music (only sound effects): OpenArena's
# music is in openarena-088-data's pak6-patch088.pk3 (a zip), whose
# music/*.ogg are unpacked into benchmarks/corpus/openarena-088-data/music/.
#   held out:    hyperrogue-music (never registered, and used by nothing that
#                was tuned or fitted: the backgrounds of run_check.py copies
#                --backgrounds held-out; only its music/ folder is used)
#
# Each package is fetched with `apt-get download` into benchmarks/corpus/debs/
# and unpacked with `dpkg -x` into benchmarks/corpus/<package>/.  The script is
# idempotent: a package whose .deb and unpacked tree are already there at the
# candidate version is left alone.  It also installs SoX (which make_queries.py
# uses to alter the queries) when it is missing.  Run it as root, from
# anywhere:
#
#   bash benchmarks/fetch_corpus.sh
#
# At the end it prints, per package, the version, the number of audio files
# and their total duration (measured with PyAV, from the project's .venv), and
# writes the same to benchmarks/corpus/MANIFEST.tsv.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"
corpus="$here/corpus"
debs="$corpus/debs"
packages=(wesnoth-1.16-music singularity-music openarena-088-data xmoto-data frozen-bubble-data
          fretsonfire-songs-muldjord fretsonfire-songs-sectoid hyperrogue-music)

python="${PYTHON:-$repo/.venv/bin/python}"
if [ ! -x "$python" ]; then
    echo "fetch_corpus: $python not found; create the project's venv first or set PYTHON=/path/to/python (with PyAV)" >&2
    exit 1
fi

apt_opts=(-q)
if [ "$(id -u)" -eq 0 ]; then
    # apt-get download drops to the _apt user, which cannot write here.
    apt_opts+=(-o APT::Sandbox::User=root)
fi

candidate() {  # candidate version of a package, empty if apt does not know it
    apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}' | grep -v '(none)' || true
}

# apt-cache knows nothing before the first `apt-get update` on a new machine.
need_update=0
for p in "${packages[@]}"; do
    [ -n "$(candidate "$p")" ] || need_update=1
done
sox_ok() {  # SoX with its MP3 writer (libsox-fmt-mp3): make_queries.py and run_check.py write mp3_64k
    command -v sox >/dev/null 2>&1 && sox -h 2>/dev/null | grep -q 'AUDIO FILE FORMATS:.* mp3'
}
if ! sox_ok; then
    need_update=1
fi
if [ "$need_update" -eq 1 ]; then
    echo "fetch_corpus: apt-get update" >&2
    apt-get update -qq
fi
if ! sox_ok; then
    echo "fetch_corpus: installing SoX and its formats (MP3 included)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq sox libsox-fmt-all >/dev/null
fi

mkdir -p "$debs"
: > "$corpus/MANIFEST.tsv.tmp"
for p in "${packages[@]}"; do
    version="$(candidate "$p")"
    if [ -z "$version" ]; then
        echo "fetch_corpus: Debian has no package $p here; check 'apt-cache search' for its current name" >&2
        exit 1
    fi
    # A .deb's file name spells the epoch's ':' as '%3a'.
    deb="$debs/${p}_${version//:/%3a}_all.deb"
    if [ ! -s "$deb" ]; then
        echo "fetch_corpus: apt-get download $p=$version" >&2
        (cd "$debs" && apt-get download "${apt_opts[@]}" "$p=$version")
    fi
    if [ ! -s "$deb" ]; then
        # Not an 'all' package after all: take whatever apt-get wrote.
        deb="$(ls -1 "$debs/${p}_${version//:/%3a}_"*.deb | head -n 1)"
    fi
    stamp="$corpus/$p/.deb-version"
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$version" ]; then
        echo "fetch_corpus: dpkg -x $(basename "$deb")" >&2
        rm -rf "$corpus/$p.tmp" "$corpus/$p.old"
        dpkg -x "$deb" "$corpus/$p.tmp"
        echo "$version" > "$corpus/$p.tmp/.deb-version"
        if [ -d "$corpus/$p" ] && diff -rq -x .deb-version "$corpus/$p" "$corpus/$p.tmp" >/dev/null; then
            # Same files already there (unpacked before the stamp existed):
            # keep them, so that nothing reading them sees them vanish.
            mv "$corpus/$p.tmp/.deb-version" "$stamp"
            rm -rf "$corpus/$p.tmp"
        else
            [ ! -d "$corpus/$p" ] || mv "$corpus/$p" "$corpus/$p.old"
            mv "$corpus/$p.tmp" "$corpus/$p"
            rm -rf "$corpus/$p.old"
        fi
    fi
    if [ "$p" = openarena-088-data ] && [ ! -d "$corpus/$p/music" ]; then
        "$python" - "$corpus/$p" <<'PY'
"""Unpack OpenArena's music (music/*.ogg) from the package's .pk3 archive."""
import sys
import zipfile
from pathlib import Path

root = Path(sys.argv[1])
(pk3,) = root.rglob("pak6-patch088.pk3")
out = root / "music.tmp"
out.mkdir(exist_ok=True)
with zipfile.ZipFile(pk3) as z:
    for info in z.infolist():
        if info.filename.startswith("music/") and info.filename.endswith(".ogg"):
            (out / Path(info.filename).name).write_bytes(z.read(info))
out.rename(root / "music")
PY
    fi
    printf '%s\t%s\t%s\t%s\n' "$p" "$version" "$(basename "$deb")" "$(sha256sum "$deb" | cut -d' ' -f1)" \
        >> "$corpus/MANIFEST.tsv.tmp"
done

"$python" - "$corpus" <<'PY'
"""Count the audio files and hours of each unpacked package."""
import sys
from pathlib import Path

import av

corpus = Path(sys.argv[1])
AUDIO = {".ogg", ".oga", ".mp3", ".flac", ".wav", ".opus"}
rows = []
header = ["package", "version", "deb", "deb_sha256", "audio_files", "songs", "hours"]
for line in (corpus / "MANIFEST.tsv.tmp").read_text().splitlines():
    package, version, deb, sha = line.split("\t")
    files = sorted(f for f in (corpus / package).rglob("*") if f.is_file() and f.suffix.lower() in AUDIO)
    if package == "hyperrogue-music":  # its sounds/ folder holds game effects, not music
        files = [f for f in files if f.parent.name == "music"]
    # A Frets on Fire song is a folder of stems that play together; its length
    # is its longest stem.  Elsewhere every file is one piece of music.
    songs: dict[Path, float] = {}
    unreadable = 0
    for f in files:
        try:
            with av.open(str(f)) as container:
                stream = container.streams.audio[0]
                if stream.duration is not None:
                    seconds = float(stream.duration * stream.time_base)
                else:
                    seconds = float(container.duration or 0) / av.time_base
        except av.FFmpegError:  # three of hyperrogue's tracks: the benchmarks leave them out too
            unreadable += 1
            continue
        key = f.parent if package.startswith("fretsonfire-") else f
        songs[key] = max(songs.get(key, 0.0), seconds)
    if unreadable:
        print(f"{package}: {unreadable} audio file(s) FFmpeg cannot open, left out", file=sys.stderr)
    rows.append([package, version, deb, sha, str(len(files) - unreadable), str(len(songs)), f"{sum(songs.values()) / 3600:.3f}"])
(corpus / "MANIFEST.tsv").write_text("\n".join("\t".join(r) for r in [header, *rows]) + "\n")
(corpus / "MANIFEST.tsv.tmp").unlink()
width = max(len(r[0]) for r in rows)
print(f"{'package':<{width}}  {'version':<12} {'files':>5} {'songs':>5} {'hours':>6}")
for package, version, _, _, n_files, n_songs, hours in rows:
    print(f"{package:<{width}}  {version:<12} {n_files:>5} {n_songs:>5} {hours:>6}")
sys.path.insert(0, str(corpus.parent))
from corpus_lists import negative_sources, registered_files, stems, stream_duration_s  # noqa: E402

registered = sum(stream_duration_s(f) for f in registered_files(corpus)) / 3600
negative = sum(max(stream_duration_s(f) for f in stems(s)) for s in negative_sources(corpus)) / 3600
print(f"registered (benchmarks/corpus_lists.py): {registered:.2f} h; negatives (whole songs): {negative:.2f} h")
PY
