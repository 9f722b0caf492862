"""Output-check speed: a 3-minute output against the benchmark registry, each of the three checks timed.

    .venv/bin/python benchmarks/run_check.py --registry benchmarks/work/bench.db \\
        --workers 2 --out benchmarks/work/check.json

The registry is copied first (bench.db is left as it is). It has no stored
melodies, so ``consentry works melodies`` computes them on the copy; that
time is reported too. One espeak-ng voice is enrolled (when espeak-ng is
installed) so that the voice check compares with something.

The output (synthesised here, 180 s at 22050 Hz) is a piece from
``consentry.synth`` with two borrowings: 20 s copied from one registered
work's recording (from 40 s into the output), and a 24-note phrase of another
work's stored melody re-synthesised 2 semitones up and 10% faster with
another timbre (from 120 s).

Reported, all measured in this run on the same file:

- recording check time / ``Registry.identify`` time;
- melody check time / output duration (transcription + matching);
- voice check time / output duration;
- full check time (all three, decoding included, from ``check_output``) / output duration;
- ``consentry check`` wall time (a fresh process: imports and model loading included) / output duration.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
import wave
from pathlib import Path

import numpy as np
from machine import cli, copy_registry

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SR = 22050


def write_wav(path: Path, x: np.ndarray) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SR)
        w.writeframes((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def make_output(reg, work_dir: Path) -> tuple[Path, dict]:
    from consentry.check.engines import melody_engine_id
    from consentry.decode import decode_audio
    from consentry.melody import Melody, melody_from_notes
    from consentry.melody.synthetic import alter_melody, render_notes
    from consentry.melody.transcribe import Note
    from consentry.synth import synthesise_piece

    x = synthesise_piece(4242, duration_s=180.0, sample_rate_hz=SR).astype(np.float32)
    works = reg.works()
    copied = max(works, key=lambda w: w.duration_s)
    seg = decode_audio(copied.source, sample_rate_hz=SR, start_s=30.0, max_duration_s=20.0).samples
    x[40 * SR:40 * SR + seg.size] = seg / max(1e-6, float(np.abs(seg).max())) * 0.8
    melodies = reg.store.work_melodies(engine=melody_engine_id())
    quoted_id, quoted_mel = None, None
    for w in works:
        if w.work_id == copied.work_id or w.work_id not in melodies:
            continue
        mel = melody_from_notes([Note(a, b, int(c), d) for a, b, c, d in melodies[w.work_id]])
        if len(mel) >= 80:
            quoted_id, quoted_mel = w.work_id, mel
            break
    facts = {"copied_work": copied.work_id, "copied_at_s": 40.0, "copied_from_work_s": 30.0}
    if quoted_mel is not None:
        start = 40
        phrase = Melody(quoted_mel.onsets_s[start:start + 24], quoted_mel.pitches[start:start + 24])
        alt = alter_melody(np.random.default_rng(5), phrase, transpose_semitones=2, tempo_ratio=1.1, start_s=0.0)
        ends = np.append(alt.onsets_s[1:], alt.onsets_s[-1] + 0.4)
        dur = float(ends[-1] + 0.5)
        quote = render_notes([(float(a), float(b) - 0.02, int(c)) for a, b, c in zip(alt.onsets_s, ends, alt.pitches)],
                             duration_s=dur, sample_rate_hz=SR, seed=9)
        i = 120 * SR
        n = min(quote.size, x.size - i)
        x[i:i + n] = quote[:n]
        facts.update({"quoted_work": quoted_id, "quoted_at_s": 120.0,
                      "quoted_from_work_s": float(quoted_mel.onsets_s[start]), "quote_s": round(dur, 2)})
    return write_wav(work_dir / "output-3min.wav", x), facts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--registry", default=str(HERE / "work" / "bench.db"))
    ap.add_argument("--work", default=str(HERE / "work"))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    sys.path.insert(0, str(HERE))
    from machine import run_info

    from consentry.check import service
    from consentry.services import Registry

    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    reg_path = copy_registry(Path(a.registry), work / "check-bench.db")
    out: dict = {"machine": run_info()}
    # 1. Melodies of the registered works (the copy has none).
    t, r = cli("works", "melodies", "--workers", str(a.workers), "--json", registry=reg_path)
    done = json.loads(r.stdout)
    with Registry.open(reg_path, create=False) as reg:
        hours = sum(w.duration_s for w in reg.works()) / 3600
    out["works_melodies"] = {"works": len(done["computed"]), "errors": len(done["errors"]), "seconds": round(t, 2),
                             "registry_hours": round(hours, 3), "workers": a.workers,
                             "seconds_per_audio_second": round(t / (hours * 3600), 5)}
    # 2. A voice to compare with.
    if shutil.which("espeak-ng"):
        sample = work / "check-voice.wav"
        subprocess.run(["espeak-ng", "-v", "en+m3", "-w", str(sample),
                        "The quick brown fox jumps over the lazy dog while the children watch from the window."], check=True)
        cli("voices", "enroll", "--creator", "Bench Voice", str(sample), registry=reg_path)
    # 3. The output, and the checks, in this process (models warmed up on a first run, then timed).
    with Registry.open(reg_path, create=False) as reg:
        output, facts = make_output(reg, work)
        t0 = time.perf_counter()
        ctx = service.prepare_check(reg)
        prepare_s = time.perf_counter() - t0
        service.check_output(ctx, output)  # warm-up: model sessions, page cache
        runs = []
        for _ in range(2):
            res = service.check_output(ctx, output)
            runs.append(res.seconds)
        idents = []
        for _ in range(2):
            t0 = time.perf_counter()
            reg.identify(output)
            idents.append(time.perf_counter() - t0)
    best = {k: min(r[k] for r in runs) for k in runs[0]}
    ident = min(idents)
    d = res.duration_s
    out["output"] = {"duration_s": round(d, 2), **facts}
    out["found"] = {
        "recording": [[m["work_id"], m["query_start_s"], m["work_start_s"], m["score"]] for m in res.recording],
        "copied_share": round(res.copied_share, 4),
        "melody": [[m["work_id"], m["query_start_s"], m["reference_start_s"], m["n_matched_notes"], m["false_alarm"]]
                   for m in res.melody],
        "voice": [[v["creator"], v["score"], v["is_match"]] for v in res.voice],
        "voice_note": res.voice_note, "skipped": res.skipped,
    }
    out["seconds"] = {k: round(v, 3) for k, v in best.items()} | {"identify": round(ident, 3),
                                                                    "prepare_check": round(prepare_s, 3)}
    out["ratios"] = {
        "recording_check_over_identify": round(best["recording"] / ident, 3),
        "melody_check_over_duration": round(best["melody"] / d, 4),
        "voice_check_over_duration": round(best["voice"] / d, 4),
        "full_check_over_duration": round(best["total"] / d, 4),
    }
    # 4. The command, as a user runs it (a fresh process; no PDF).
    t, _ = cli("check", str(output), "--json", str(work / "check-bench.jsonl"), "--no-pdf", registry=reg_path)
    out["seconds"]["cli_check"] = round(t, 3)
    out["ratios"]["cli_check_over_duration"] = round(t / d, 4)
    text = json.dumps(out, indent=2)
    print(text)
    if a.out:
        Path(a.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
