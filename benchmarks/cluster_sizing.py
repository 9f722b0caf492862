"""Sizing on paper for docs/cluster.md: the issue's three workloads from the measured per-core rates.

    .venv/bin/python benchmarks/cluster_sizing.py

Nothing is measured here: every input below is a figure of benchmarks/RESULTS.md (the key after each one names
its section, as "Where things stand" keys them) or a stated assumption (``ASSUMED``).  The figures printed are
the ones docs/cluster.md's "Sizing on paper" gives; tests/cluster/test_cluster_sizing.py checks that the doc
holds each of them, so a changed input shows up as a failing test until the doc is redone.
"""

from __future__ import annotations

import argparse
import json
import math

# --- assumptions (not measurements) ---
ASSUMED = {
    "usd_per_core_hour": 0.02,  # an assumed price; every cost below scales with it
    "audio_bits_per_s": 128_000,  # 1 PB taken as 128-kbit/s compressed audio
    "text_bytes_per_doc": 5_000,  # 10 billion documents of 5 KB each
    "image_bytes": 200_000,  # 5 billion one-megapixel JPEGs of 200 KB each
    "cores": 1_000,  # the cluster the hours are given for
}

# --- measured inputs, with their RESULTS.md key ---
MEASURED = {
    # M3: decode to 8 kHz mono, 22.3 CPU-s for the 3.63 h development corpus (session 5, "after")
    "audio_decode_cpu_s": 22.3,
    "audio_decode_hours": 3.63,
    # M2: 10-s query CPU at 10,004 h, p50 49.4 ms and p95 76.5 ms (session 4, load 8.5)
    "audio_query_p50_s": 0.0494,
    "audio_query_p95_s": 0.0765,
    # M2: index 1.56 MB per hour and 1,120,783,995 postings at 10,004 h
    "audio_index_mb_per_h": 1.56,
    "audio_postings_per_h": 1_120_783_995 / 10_004,
    # R4, R7: Ray's per-item cost 0.90-1.07x a local scan's
    "ray_per_item_max": 1.07,
    # T6: 2 KB rows 18.0-21.3 MB per CPU-second against 1 GB once a scan's fixed costs are paid
    "text_mb_per_cpu_s_low": 18.0,
    "text_mb_per_cpu_s_high": 21.3,
    # T6: whole documents 33.9 MB/CPU-s against 33 MB, 25.0 against 1 GB (registry x30)
    "text_whole_33mb": 33.9,
    "text_whole_1gb": 25.0,
    # T6: index 10.0 % of the registered text at 1 GB
    "text_index_fraction": 0.100,
    # I7: version 4 scan, 27.9 CPU-ms per one-megapixel JPEG against the 64 development works
    "image_small_index_s": 0.0279,
    # I6, I5: version 3 query CPU after decoding, median 662 ms at 100,000 works, 967 ms at 1,000,000
    "image_query_100k_s": 0.662,
    "image_query_1m_s": 0.967,
    # I5: index 1,874 bytes an image at 1,000,000 works
    "image_index_bytes": 1_874,
}

PB = 1e15
TB = 1e12


def _sig(x: float, digits: int = 3) -> str:
    """``x`` rounded to ``digits`` significant figures, with thousands separators."""
    if x == 0:
        return "0"
    r = float(f"{x:.{digits}g}")
    if abs(r) >= 10 ** (digits - 1):
        return f"{r:,.0f}"
    decimals = digits - 1 - math.floor(math.log10(abs(r)))
    return f"{r:,.{decimals}f}".rstrip("0").rstrip(".")


def _power(x: float) -> str:
    """``x`` as docs/cluster.md writes a large number: three significant figures times a power of ten."""
    exp = math.floor(math.log10(abs(x)))
    return f"{x / 10 ** exp:.2f}·10" + "".join("⁰¹²³⁴⁵⁶⁷⁸⁹"[int(d)] for d in str(exp))


def _run(core_hours: float, data_bytes: float) -> dict[str, str]:
    cost = core_hours * ASSUMED["usd_per_core_hour"]
    return {"core_hours": _sig(core_hours), "hours_on_cluster": _sig(core_hours / ASSUMED["cores"], 2),
            "usd_per_tb": _sig(cost / (data_bytes / TB), 2)}


def figures() -> dict[str, dict[str, str]]:
    """Every figure of the sizing section, formatted as docs/cluster.md writes it."""
    m, a = MEASURED, ASSUMED
    out: dict[str, dict[str, str]] = {}

    # 1 PB of audio against 100,000 h
    audio_s = PB * 8 / a["audio_bits_per_s"]
    decode = m["audio_decode_cpu_s"] / (m["audio_decode_hours"] * 3600)
    low = audio_s * (decode + m["audio_query_p50_s"] / 10) * m["ray_per_item_max"] / 3600
    high = audio_s * (decode + m["audio_query_p95_s"] / 10) * m["ray_per_item_max"] / 3600
    out["audio"] = {"hours_of_audio": _power(audio_s / 3600), "decode_ms_per_s": f"{decode * 1e3:.2f}",
                    "index_gb": _sig(100_000 * m["audio_index_mb_per_h"] / 1e3),
                    "postings_bn": _sig(100_000 * m["audio_postings_per_h"] / 1e9, 2)}
    out["audio_low"] = _run(low, PB)
    out["audio_high"] = _run(high, PB)

    # 10 billion documents against 1 TB of text
    text_bytes = 10e9 * a["text_bytes_per_doc"]
    fall = m["text_whole_1gb"] / m["text_whole_33mb"]  # per x30 of registry
    slow = m["text_mb_per_cpu_s_low"] * fall * fall  # two more x30 steps: 1 GB -> ~1 TB
    out["text"] = {"dataset_tb": _sig(text_bytes / TB), "index_gb": _sig(m["text_index_fraction"] * 1e3),
                   "fall_per_30x": f"{fall:.2f}", "slow_mb_per_cpu_s": f"{slow:.1f}"}
    for name, rate in (("text_fast", m["text_mb_per_cpu_s_high"]), ("text_1gb", m["text_mb_per_cpu_s_low"]),
                       ("text_slow", slow)):
        out[name] = _run(text_bytes / (rate * 1e6) * m["ray_per_item_max"] / 3600, text_bytes)

    # 5 billion images against 10 million
    images = 5e9
    data = images * a["image_bytes"]
    q1, q2 = m["image_query_100k_s"], m["image_query_1m_s"]
    line_10m = q2 + (q2 - q1) * (10e6 - 1e6) / (1e6 - 1e5)  # straight line through the two points
    decade_10m = q2 * (q2 / q1)  # the same growth per tenfold again
    out["image"] = {"dataset_pb": _sig(data / PB, 2), "index_gb": _sig(10e6 * m["image_index_bytes"] / 1e9),
                    "line_10m_s": f"{line_10m:.1f}", "decade_10m_s": f"{decade_10m:.1f}"}
    for name, per in (("image_small", m["image_small_index_s"]), ("image_1m", q2),
                      ("image_decade", decade_10m), ("image_line", line_10m)):
        out[name] = _run(images * per * m["ray_per_item_max"] / 3600, data)
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = p.parse_args(argv)
    figs = figures()
    if args.json:
        print(json.dumps(figs, indent=1))
        return
    for group, values in figs.items():
        print(group + ": " + ", ".join(f"{k} {v}" for k, v in values.items()))


if __name__ == "__main__":
    main()
