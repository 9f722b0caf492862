#!/usr/bin/env bash
# Fetch the benchmark corpus from Debian packages (music nobody here wrote):
#   registered:  wesnoth-1.16-music, singularity-music
#   negatives:   fretsonfire-songs-muldjord, fretsonfire-songs-sectoid (never registered)
# Idempotent; needs apt-get (run as root). Unpacks into benchmarks/corpus/<package>/.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
corpus="$here/corpus"
mkdir -p "$corpus/debs"
packages=(wesnoth-1.16-music singularity-music fretsonfire-songs-muldjord fretsonfire-songs-sectoid)
if ! apt-cache policy "${packages[0]}" 2>/dev/null | grep -q Candidate; then
    apt-get update -qq
fi
cd "$corpus/debs"
for p in "${packages[@]}"; do
    if ! ls "$p"_*.deb >/dev/null 2>&1; then
        apt-get download -q -o APT::Sandbox::User=root "$p"
    fi
    if [ ! -d "$corpus/$p" ]; then
        dpkg -x "$p"_*.deb "$corpus/$p.tmp" && mv "$corpus/$p.tmp" "$corpus/$p"
    fi
done
ls -1 "$corpus/debs"
python3 - "$corpus" "${packages[@]}" <<'PY'
import sys, pathlib
import av
root = pathlib.Path(sys.argv[1])
for p in sys.argv[2:]:
    files = [f for f in (root / p).rglob("*") if f.suffix.lower() in {".ogg", ".mp3", ".flac", ".wav"}]
    seconds = 0.0
    for f in files:
        try:
            with av.open(str(f)) as c:
                seconds += float(c.duration or 0) / 1e6
        except Exception:
            pass
    print(f"{p}: {len(files)} audio files, {seconds / 3600:.2f} h")
PY
