#!/usr/bin/env bash
# Install what benchmarks/run_melody_real.py needs (issue 21, melodies on real
# music), all from Debian packages; nothing here is needed by consentry itself.
#
#   fluidsynth                 renders MIDI to audio
#   fluid-soundfont-gm         soundfont A (FluidR3_GM.sf2): the registered renders
#   timgm6mb-soundfont         soundfont B (TimGM6mb.sf2): the outputs' renders
#   openttd-openmsx            31 MIDI tunes (OpenTTD's OpenMSX music set)
#   planetblupi-music-midi     10 MIDI tunes (Planet Blupi)
#   abcmidi                    abc2midi and six folk tunes in its examples
#   freedoom                   66 distinct MIDI tunes in its two WADs: the second held-out set (session 5)
#   python3-venv               a separate environment for music21 (PyPI), whose corpus holds Bach's chorales:
#                              the third held-out set (session 6), exported to MIDI by benchmarks/melody_chorales.py,
#                              and O'Neill's and Ryan's fiddle tunes: the fourth (session 7), benchmarks/melody_fiddle.py,
#                              and Ryan's tunes not in O'Neill's: the fifth (session 8), benchmarks/melody_ryan.py,
#                              and O'Neill's not in Ryan's: the sixth (prepared in session 8, not scored)
#
# Run as root (as CI does):  bash benchmarks/fetch_melody_midi.sh
set -euo pipefail
packages=(fluidsynth fluid-soundfont-gm timgm6mb-soundfont openttd-openmsx planetblupi-music-midi abcmidi freedoom
          python3-venv)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    if [ -z "$(apt-cache policy "${missing[0]}" 2>/dev/null | awk '/Candidate:/ {print $2}' | grep -v '(none)')" ]; then
        apt-get update -q
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
for p in "${packages[@]}"; do
    printf '%s\t%s\n' "$p" "$(dpkg-query -W -f='${Version}' "$p")"
done
# The chorales: music21 in its own environment (not the project's), then its corpus exported to MIDI once.
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/work/music21-venv"
out="$here/work/melody-real/chorales"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -c 'import music21' 2>/dev/null || "$venv/bin/pip" install -q 'music21==10.5.1'
printf 'music21\t%s\n' "$("$venv/bin/python" -c 'import music21; print(music21.__version__)')"
if [ ! -f "$out/manifest.json" ]; then
    "$venv/bin/python" "$here/melody_chorales.py" "$out"
fi
fiddle="$here/work/melody-real/fiddle"
if [ ! -f "$fiddle/manifest.json" ]; then
    "$venv/bin/python" "$here/melody_fiddle.py" "$fiddle"
fi
ryan="$here/work/melody-real/ryan"
if [ ! -f "$ryan/manifest.json" ]; then
    "$venv/bin/python" "$here/melody_ryan.py" "$ryan" "$fiddle/manifest.json"
fi
oneill="$here/work/melody-real/oneill"
if [ ! -f "$oneill/manifest.json" ]; then
    "$venv/bin/python" "$here/melody_ryan.py" --from oneills1850 "$oneill" "$fiddle/manifest.json"
fi
