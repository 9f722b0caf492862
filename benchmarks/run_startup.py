"""Start-up time of the command line (issue 16): ``consentry --help`` and a one-shot identify.

Builds a small registry (5 synthetic pieces of 60 s, engine default) and a 10-s clip
(seconds 20-30 of the third piece) in a work folder, then runs, round after round,
each command in a fresh process:

- ``pass``:      ``python -c pass`` (the interpreter alone);
- ``help``:      ``consentry --help``;
- ``identify``:  ``consentry --registry r.db identify clip.wav``;
- ``decode``:    a fresh process that imports the decoder and decodes the clip.

It prints, per command, the median wall time and the median CPU time (user + system of
the child) over the rounds, and each as a ratio to ``pass`` measured in the same run.
Wall time is the target's measure on a quiet machine; CPU time is steadier when other
work shares the machine.  The children run without ``PYTHONDONTWRITEBYTECODE`` and one
untimed round goes first, so that every module is read from its compiled ``.pyc`` as on
a user's machine (with the variable set, each changed module is compiled again in every
run: half a second of a one-shot identify here).

    python benchmarks/run_startup.py --rounds 10 --work /tmp/startup
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path


def _prepare(work: Path) -> tuple[Path, Path]:
    from consentry.services.registry import Registry
    from consentry.testing.alterations import write_wav
    from consentry.testing.synth import synthesise_piece

    work.mkdir(parents=True, exist_ok=True)
    registry, clip = work / "r.db", work / "clip.wav"
    if registry.exists() and clip.exists():
        return registry, clip
    rate = 22050
    pieces = []
    for i in range(5):
        samples = synthesise_piece(100 + i, duration_s=60, sample_rate_hz=rate)
        path = work / f"w{i}.wav"
        write_wav(path, samples, sample_rate_hz=rate)
        pieces.append(path)
        if i == 2:
            write_wav(clip, samples[20 * rate : 30 * rate], sample_rate_hz=rate)
    with Registry.open(registry) as reg:
        for i, path in enumerate(pieces):
            reg.register([path], title=f"w{i}", creator="Start-up Bench", terms="deny")
    return registry, clip


def _run(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 1):  # identify exits 1 when it finds nothing; that would be a bug here
        raise SystemExit(f"{cmd}: exit {done.returncode}: {done.stderr.decode(errors='replace')[-500:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--work", type=Path, default=Path("/tmp/consentry-startup"))
    ap.add_argument("--compare-src", type=Path, metavar="DIR",
                    help="also time help and identify with another checkout's src/ first on PYTHONPATH "
                         "(e.g. an older commit from `git archive`), in the same rounds")
    args = ap.parse_args()
    registry, clip = _prepare(args.work)
    py = sys.executable
    cli = [py, "-m", "consentry.adapters.cli.main"]
    cmds = {
        "pass": [py, "-c", "pass"],
        "help": cli + ["--help"],
        "identify": cli + ["--registry", str(registry), "identify", str(clip)],
        "decode": [py, "-c", f"from consentry.io.decode import decode_audio; decode_audio({str(clip)!r}, sample_rate_hz=8000)"],
    }
    check = subprocess.run(cmds["identify"] + ["--json"], capture_output=True, text=True)
    found = [m["title"] for line in check.stdout.splitlines() if line.strip() for m in json.loads(line).get("matches", [])]
    if "w2" not in found:
        raise SystemExit(f"identify did not find the clip's work: {check.stdout[-400:]} {check.stderr[-400:]}")
    base = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    envs: dict[str, dict[str, str] | None] = {k: base for k in cmds}
    if args.compare_src:
        other = dict(base, PYTHONPATH=str(args.compare_src.resolve()))
        for name in ("help", "identify"):
            cmds[f"{name}@other"] = cmds[name]
            envs[f"{name}@other"] = other
    walls = {k: [] for k in cmds}
    cpus = {k: [] for k in cmds}
    for name, cmd in cmds.items():  # untimed: writes the .pyc files
        _run(cmd, envs[name])
    for _ in range(args.rounds):
        for name, cmd in cmds.items():
            wall, cpu = _run(cmd, envs[name])
            walls[name].append(wall)
            cpus[name].append(cpu)
    load = os.getloadavg()[0]
    print(f"rounds {args.rounds}, load average (1 min) at the end {load:.2f}")
    if args.compare_src:
        print(f"@other: PYTHONPATH={args.compare_src}")
    print(f"{'command':16} {'wall s':>8} {'x pass':>7} {'CPU s':>8} {'x pass':>7}")
    wp, cp = statistics.median(walls["pass"]), statistics.median(cpus["pass"])
    for name in cmds:
        w, c = statistics.median(walls[name]), statistics.median(cpus[name])
        print(f"{name:16} {w:8.3f} {w / wp:7.1f} {c:8.3f} {c / max(cp, 1e-3):7.1f}")


if __name__ == "__main__":
    main()
