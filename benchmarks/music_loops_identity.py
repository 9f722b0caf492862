"""The music engine's compiled loops give the NumPy code's hashes bit for bit, on every file of the corpus.

    python benchmarks/music_loops_identity.py --corpus benchmarks/corpus [--every 1] [--out RESULT.json]

Every registered music file and every never-registered negative song of the
corpus (benchmarks/corpus_lists.py; a song of stems: each stem) is decoded
once to the engine's rate, then hashed by both paths of
``consentry.engines.music.extract`` in this process, alternating file by file
(the NumPy code: the loops unloaded and their load held off; the compiled
loops of ``engines/music/_loops.py``: loaded), for engine versions 2 and 1:

- ``log_spectrogram`` (every float32 value, NaN = NaN),
- ``index_hashes`` (keys, anchor frames, anchor pitches),
- ``query_hashes`` of a 10-s excerpt from the middle (key ranges, owners).

Prints the number of files whose results differ (the claim is 0) and the CPU
seconds of ``index_hashes`` (version 2) by each path, measured in the same
run, so their ratio does not depend on what else the machine runs.  Exit 1
if anything differs.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus_lists import negative_sources, registered_files, stems  # noqa: E402
from machine import run_info  # noqa: E402


def _outputs(samples: np.ndarray, params) -> list[np.ndarray]:
    from consentry.engines.music import extract

    mid = max(0, samples.size // 2 - 5 * params.sample_rate_hz)
    query = extract.query_hashes(samples[mid: mid + 10 * params.sample_rate_hz], params)
    return [extract.log_spectrogram(samples, params), *extract.index_hashes(samples, params),
            query.key_lo, query.key_hi, query.owner]


def _use_loops(on: bool) -> None:
    from consentry.engines.music import arith

    arith.LOOPS.loaded = None
    arith.LOOPS.load_after = 0.0 if on else float("inf")
    if on and arith.LOOPS.load() is None:
        sys.exit("music_loops_identity: Numba is not installed, so there are no compiled loops to compare")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default="benchmarks/corpus")
    ap.add_argument("--every", type=int, default=1, help="take every k-th file (default: all)")
    ap.add_argument("--out", default=None, help="write the counts and CPU times here (JSON)")
    args = ap.parse_args()

    from consentry.engines.music import arith, extract
    from consentry.engines.music.params import DEFAULT_PARAMS, V1_PARAMS
    from consentry.io.decode import decode_audio

    info = run_info()  # the machine's load as the run starts
    corpus = Path(args.corpus)
    files = [str(f) for f in registered_files(corpus)]
    files += [str(f) for song in negative_sources(corpus) for f in stems(song)]
    files = files[:: max(1, args.every)]
    _use_loops(True)  # compiled (or loaded from Numba's cache) before anything is timed
    extract.index_hashes(np.zeros(4 * DEFAULT_PARAMS.sample_rate_hz, np.float32), DEFAULT_PARAMS)
    differ: list[str] = []
    cpu = {"numpy": 0.0, "loops": 0.0}
    audio_s = 0.0
    for n, path in enumerate(files):
        samples = decode_audio(path, sample_rate_hz=DEFAULT_PARAMS.sample_rate_hz).samples
        audio_s += samples.size / DEFAULT_PARAMS.sample_rate_hz
        got = {}
        for mode in (("numpy", "loops") if n % 2 == 0 else ("loops", "numpy")):
            _use_loops(mode == "loops")
            t0 = time.process_time()
            extract.index_hashes(samples, DEFAULT_PARAMS)
            cpu[mode] += time.process_time() - t0
            got[mode] = [a for params in (DEFAULT_PARAMS, V1_PARAMS) for a in _outputs(samples, params)]
        same = all(a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=True)
                   for a, b in zip(got["numpy"], got["loops"]))
        if not same:
            differ.append(Path(path).name)
        print(f"{n + 1}/{len(files)} {Path(path).name}: {'same' if same else 'DIFFERENT'}", file=sys.stderr, flush=True)
    _use_loops(False)
    arith.LOOPS.load_after = 600.0
    result = {**info, "files": len(files), "audio_h": round(audio_s / 3600, 3), "differ": differ,
              "index_hashes_cpu_s": {k: round(v, 2) for k, v in cpu.items()},
              "ratio_loops_to_numpy": round(cpu["loops"] / cpu["numpy"], 3) if cpu["numpy"] else None}
    print(f"{len(files)} files, {audio_s / 3600:.2f} h: {len(differ)} with any different value "
          f"(spectrogram, index hashes, query hashes; versions 2 and 1)")
    print(f"index_hashes (version 2) CPU: NumPy {cpu['numpy']:.1f} s, compiled loops {cpu['loops']:.1f} s "
          f"({result['ratio_loops_to_numpy']:.2f}x), alternating file by file")
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
