"""Load on the server's identify endpoint: requests per second and latency at 1, 8 and 32 concurrent clients.

A benchmark, not a test.  It builds a small registry from synthesised music
(consentry.testing.synth; ``--works`` pieces of ``--work-s`` seconds), makes a
licensee account and an API token, starts ``consentry serve`` on 127.0.0.1
(one process), and runs the load from a SECOND process (this script with
``--client``): threads, one httpx client each, posting ``--clip-s``-second
WAV excerpts (with a little noise) of registered works to
``POST /api/v1/identify`` for ``--seconds`` at each concurrency.  Reports
requests/s, p50/p95/max latency, HTTP errors (must be 0) and how many
answers named the right work first (or a wrong one; the rest found
nothing: the engine's recall on these clips, not the server's doing).

    .venv/bin/python benchmarks/run_server_load.py --out benchmarks/work/server_load.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import run_info, wav_bytes  # noqa: E402

SR = 22050


def build(root: Path, *, works: int, work_s: float, clip_s: float, clips: int) -> tuple[Path, str, list[dict]]:
    """The registry, a licensee's API token and the query clips (WAV files in root/queries)."""
    from consentry import Registry
    from consentry.services.accounts import create_account, create_token
    from consentry.testing.synth import synthesise_piece

    songs = root / "songs"
    songs.mkdir(parents=True)
    rng = np.random.default_rng(7)
    queries = []
    for seed in range(works):
        x = synthesise_piece(1000 + seed, duration_s=work_s, sample_rate_hz=SR)
        (songs / f"song{seed:04d}.wav").write_bytes(wav_bytes(x, sample_rate_hz=SR))
    registry = root / "load.db"
    t0 = time.perf_counter()
    with Registry.open(registry) as reg:
        summary = reg.register([songs], creator="Load Test", terms="deny", workers=os.cpu_count())
        by_name = {Path(w.source).stem: w.work_id for w in summary.registered}
        account = create_account(reg.store, email="load@example.org", password="load test password",
                                 role="licensee")
        _, token = create_token(reg.store, account=account, name="load", scopes=["identify"])
    print(f"registered {len(by_name)} works ({works * work_s / 3600:.2f} h) in {time.perf_counter() - t0:.0f} s", flush=True)
    qdir = root / "queries"
    qdir.mkdir()
    for i in range(clips):
        seed = int(rng.integers(works))
        x = synthesise_piece(1000 + seed, duration_s=work_s, sample_rate_hz=SR)
        start = int(rng.uniform(0, work_s - clip_s) * SR)
        y = x[start:start + int(clip_s * SR)] + 0.01 * rng.standard_normal(int(clip_s * SR)).astype(np.float32)
        path = qdir / f"q{i:03d}.wav"
        path.write_bytes(wav_bytes(y, sample_rate_hz=SR))
        queries.append({"path": str(path), "work_id": by_name[f"song{seed:04d}"]})
    (qdir / "queries.json").write_text(json.dumps(queries))
    return registry, token, queries


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def client_main(args) -> None:
    """The load generator (run in its own process): prints one JSON line per concurrency level."""
    import httpx

    queries = json.loads(Path(args.queries).read_text())
    bodies = [(Path(q["path"]).read_bytes(), q["work_id"]) for q in queries]
    headers = {"Authorization": f"Bearer {args.token}"}
    with httpx.Client(base_url=args.url, headers=headers, timeout=120) as c:  # warm-up: caches, connections
        for body, _ in bodies[:4]:
            c.post("/api/v1/identify", files={"file": ("q.wav", body, "audio/wav")}).raise_for_status()
    for clients in args.concurrency:
        latencies: list[float] = []
        errors: list[str] = []
        right, wrong = [0], [0]
        lock = threading.Lock()
        stop_at = time.monotonic() + args.seconds

        def worker(k: int) -> None:
            n = k
            with httpx.Client(base_url=args.url, headers=headers, timeout=120) as c:
                while time.monotonic() < stop_at:
                    body, work_id = bodies[n % len(bodies)]
                    n += clients
                    t0 = time.perf_counter()
                    try:
                        r = c.post("/api/v1/identify", files={"file": ("q.wav", body, "audio/wav")})
                        dt = time.perf_counter() - t0
                        ok = r.status_code == 200
                        top = r.json()["matches"][0]["work_id"] if ok and r.json()["matches"] else None
                    except Exception as exc:  # noqa: BLE001 - an error is a result here
                        dt, ok, top = time.perf_counter() - t0, False, None
                        r = exc
                    with lock:
                        latencies.append(dt)
                        if not ok:
                            errors.append(str(getattr(r, "status_code", r))[:200])
                        elif top == work_id:
                            right[0] += 1
                        elif top is not None:
                            wrong[0] += 1

        t0 = time.perf_counter()
        threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        lat = np.array(latencies) * 1000
        print(json.dumps({
            "clients": clients, "requests": len(latencies), "seconds": round(wall, 2),
            "requests_per_s": round(len(latencies) / wall, 2),
            "p50_ms": round(float(np.percentile(lat, 50)), 1), "p95_ms": round(float(np.percentile(lat, 95)), 1),
            "max_ms": round(float(lat.max()), 1), "errors": len(errors), "error_examples": errors[:3],
            "top_match_right": right[0], "top_match_wrong": wrong[0],
        }), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--url")
    ap.add_argument("--token")
    ap.add_argument("--queries")
    ap.add_argument("--works", type=int, default=100, help="Works in the registry (default 100).")
    ap.add_argument("--work-s", type=float, default=60.0, help="Length of each work (s, default 60).")
    ap.add_argument("--clip-s", type=float, default=10.0, help="Length of each query clip (s, default 10).")
    ap.add_argument("--clips", type=int, default=24, help="Distinct query clips (default 24).")
    ap.add_argument("--seconds", type=float, default=20.0, help="Load time per concurrency level (s, default 20).")
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    ap.add_argument("--workdir", type=Path, default=None, help="Keep the registry here (default: a temporary folder).")
    ap.add_argument("--out", type=Path, default=None, help="Write the results as JSON here.")
    args = ap.parse_args()
    if args.client:
        client_main(args)
        return
    info = run_info()
    root = args.workdir or Path(tempfile.mkdtemp(prefix="consentry-load-"))
    if root.exists() and any(root.iterdir()):
        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)
    registry, token, _ = build(root, works=args.works, work_s=args.work_s, clip_s=args.clip_s, clips=args.clips)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "CONSENTRY_RATE_PER_S": "1000000", "CONSENTRY_RATE_BURST": "1000000"}
    log = open(root / "server.log", "wb")
    server = subprocess.Popen([sys.executable, "-m", "consentry.adapters.cli.main", "--registry", str(registry), "serve",
                               "--port", str(port), "--data-dir", str(root / "data"), "--log-level", "warning"],
                              stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        import httpx

        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"server did not start; see {root / 'server.log'}")
            time.sleep(0.2)
        client = subprocess.run(
            [sys.executable, __file__, "--client", "--url", url, "--token", token, "--queries",
             str(root / "queries" / "queries.json"), "--seconds", str(args.seconds), "--concurrency",
             *map(str, args.concurrency)], capture_output=True, text=True, check=True)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
    levels = [json.loads(line) for line in client.stdout.splitlines() if line.startswith("{")]
    result = {**info, "registry": {"works": args.works, "work_s": args.work_s, "hours": round(args.works * args.work_s / 3600, 2)},
              "clip_s": args.clip_s, "seconds_per_level": args.seconds, "levels": levels}
    print(f"{'clients':>7} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'errors':>6} {'right':>9} {'wrong':>5}")
    for lv in levels:
        print(f"{lv['clients']:>7} {lv['requests_per_s']:>7} {lv['p50_ms']:>8} {lv['p95_ms']:>8} {lv['max_ms']:>8} "
              f"{lv['errors']:>6} {lv['top_match_right']:>4}/{lv['requests']:<4} {lv['top_match_wrong']:>5}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2))
    if args.workdir is None:
        shutil.rmtree(root, ignore_errors=True)
    if any(lv["errors"] for lv in levels):
        raise SystemExit("errors under load (see error_examples)")


if __name__ == "__main__":
    main()
