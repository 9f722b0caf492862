"""How often the voice check's telephone-band caution fires: its upper-band measure on 3-s windows of real audio.

    .venv/bin/python benchmarks/voice_band.py [--seed 1] [--out FILE]

The check (services/check/service.py) adds a caution to a voice finding whose best window holds less than
``VOICE_NARROW_BAND_DB`` of its power in 4.2-7.5 kHz: on telephone-band or low-rate audio CAM++ prints of
different people come out alike (docs/voice.md).  This script measures the shipped ``upper_band_db`` on 3-s
windows (1.5-s hop, the check's; at most 60 s per file; silent windows left out), decoded at the check's
22,050 Hz, for these groups, each from Debian packages or outputs built from them by the voice benchmarks:

- ``asterisk``: 150 files drawn (``--seed``) from asterisk-core-sounds-*-wav and the asterisk-prompt packages
  (telephone prompts, 8 kHz);
- ``kde_klettres``: 80 files drawn from klettres-data (wideband recorded speech);
- ``benchmark_voices``: the voice benchmark's human recordings (klettres, ktuberling, fillets-ng) and espeak-ng
  voices, from ``--outputs`` (run_voice.py's false-alarm outputs folder);
- ``music_outputs``: 80 of that folder's music outputs drawn (``--seed``).

It reports, per group, the windows measured and the share under the caution's level.  A measure of the
caution's reach, not of the check's accuracy: which voices are falsely matched on such audio is in
docs/voice.md ("Telephone-band audio").
"""
from __future__ import annotations

import argparse
import glob
import json
import random
from pathlib import Path

import numpy as np


def window_levels(path: str, *, limit_s: float = 60.0) -> list[float]:
    from consentry.io.decode import decode_audio
    from consentry.services.check.service import (MELODY_SAMPLE_RATE_HZ, VOICE_HOP_S, VOICE_WINDOW_S,
                                                  upper_band_db)

    sr = MELODY_SAMPLE_RATE_HZ
    x = decode_audio(path, sample_rate_hz=sr, max_duration_s=limit_s).samples
    n, hop = int(VOICE_WINDOW_S * sr), int(VOICE_HOP_S * sr)
    levels = []
    for i in range(0, max(1, x.size - n + 1), hop):
        level = upper_band_db(x[i:i + n], sr)
        if level is not None:
            levels.append(level)
    return levels


def main() -> None:
    from consentry.services.check.service import VOICE_NARROW_BAND_DB

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--outputs", default="benchmarks/work/fa-outputs",
                    help="run_voice.py's false-alarm outputs (human_*, espeak_* and music outputs)")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    rng = random.Random(a.seed)

    def draw(files: list[str], k: int) -> list[str]:
        return rng.sample(sorted(files), min(k, len(files)))

    outputs = sorted(glob.glob(str(Path(a.outputs) / "*.wav")))
    groups = {
        "asterisk": draw(glob.glob("/usr/share/asterisk/sounds/**/*.wav", recursive=True), 150),
        "kde_klettres": draw(glob.glob("/usr/share/klettres/**/*.ogg", recursive=True), 80),
        "benchmark_voices": [p for p in outputs if Path(p).name.startswith(("human_", "espeak_"))],
        "music_outputs": draw([p for p in outputs if not Path(p).name.startswith(("human_", "espeak_"))], 80),
    }
    report = {"level_db": VOICE_NARROW_BAND_DB, "seed": a.seed, "groups": {}}
    for name, files in groups.items():
        v = np.array([level for f in files for level in window_levels(f)])
        if v.size == 0:
            report["groups"][name] = {"files": len(files), "windows": 0}
            continue
        row = {"files": len(files), "windows": int(v.size), "under_level": int((v < VOICE_NARROW_BAND_DB).sum()),
               "share_under": round(float(np.mean(v < VOICE_NARROW_BAND_DB)), 3),
               "p5_db": round(float(np.percentile(v, 5)), 1), "median_db": round(float(np.median(v)), 1),
               "p95_db": round(float(np.percentile(v, 95)), 1)}
        report["groups"][name] = row
        print(f"{name:17s} {row['files']:4d} files {row['windows']:5d} windows  under {VOICE_NARROW_BAND_DB:g} dB: "
              f"{row['under_level']:5d} ({row['share_under']:.1%})  p5 {row['p5_db']}  median {row['median_db']}  "
              f"p95 {row['p95_db']}")
    if a.out:
        Path(a.out).write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
