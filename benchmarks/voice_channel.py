"""Half A of ``run_voice.py --windowed`` heard over one telephone channel: a dev set with a shared channel.

The fresh Asterisk speakers showed a weakness no dev set had: voices recorded alike (one studio, one 8-kHz
telephone band) look alike to the speaker model, so a registry of such voices alone got false matches (14 of
126 outputs with the raw best window).  To choose a remedy on dev speakers only, half A's outputs and
enrolments are made again exactly as ``--windowed`` makes them (same draws), then passed through
:func:`telephone` before they are printed: every voice of an output, the enrolled ones included, shares the
channel.  The music backgrounds pass through it too.  No speaker of half B or of the Asterisk set is used.

Only the outputs with a speech background are made (the weakness is between voices; 120 of half A's 180).
Kept in ``--channel-cache``; made once, in :data:`PARTS` processes (about 2.5 CPU-s per output).

``half="B"`` makes half B's speech outputs and enrolments through the channel instead: a held-out set for a
band-dependent rule chosen on half A (voice_bandwise.py ``--make-channel``); half B's speakers were held out
before, but never scored through a telephone channel.  Its cache says ``half`` "B" and is refused as dev.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from run_voice import RATE_HZ, speaker_half
from voice_windowed import EXTRA_ENROLMENT, cached, output_prints, windowed_mixes, windowed_people

#: Version of this recipe, kept in the cache.
CHANNEL_RECIPE = 1
#: Processes that print the outputs (each takes every PARTS-th output).
PARTS = 2
#: The telephone band (Hz) and rate.
BAND_HZ = (300.0, 3400.0)
PHONE_RATE_HZ = 8_000


#: The channels: ``g711`` (8 kHz, 300-3400 Hz, 8-bit mu-law: a telephone line) and ``band`` (8 kHz, 300-3400 Hz,
#: no companding: closer to the Asterisk prompts, stored as 16-bit PCM at 8 kHz).
CHANNELS = ("g711", "band")


def telephone(x: np.ndarray, *, sample_rate_hz: int = RATE_HZ, channel: str = "g711") -> np.ndarray:
    """``x`` (float32, mono, at ``sample_rate_hz``) through a telephone channel (:data:`CHANNELS`): resampled to
    8 kHz, kept to 300-3400 Hz, companded with 8-bit mu-law for ``g711``, and resampled back; same length and
    rate."""
    import soxr

    y = soxr.resample(np.asarray(x, np.float32), sample_rate_hz, PHONE_RATE_HZ).astype(np.float64)
    spectrum = np.fft.rfft(y)
    freqs = np.fft.rfftfreq(y.size, 1.0 / PHONE_RATE_HZ)
    spectrum[(freqs < BAND_HZ[0]) | (freqs > BAND_HZ[1])] = 0.0
    y = np.clip(np.fft.irfft(spectrum, y.size), -1.0, 1.0)
    if channel == "g711":
        mu = 255.0
        code = np.round(np.sign(y) * np.log1p(mu * np.abs(y)) / np.log1p(mu) * 127.0) / 127.0
        y = np.sign(code) * np.expm1(np.abs(code) * np.log1p(mu)) / mu
    elif channel != "band":
        raise ValueError(f"telephone: channel {channel!r} is not one of {CHANNELS}")
    out = soxr.resample(y.astype(np.float32), PHONE_RATE_HZ, sample_rate_hz)
    fitted = np.zeros(len(x), np.float32)
    fitted[: min(len(x), out.size)] = out[: len(x)]
    return fitted


def channel_part(part: int, music_dir: Path | None = None, channel: str = "g711", half: str = "A") -> dict:
    """One process's share of :func:`channel_outputs`: every :data:`PARTS`-th speech output of ``half`` (from
    ``part``), and for part 0 the enrolments."""
    from consentry.engines.voice.model import load_voice_model, voice_print

    model = load_voice_model()
    people = windowed_people(extra=EXTRA_ENROLMENT)
    enrolled = {}
    for s, (dataset, utts) in people.items():
        if part == 0 and speaker_half(s) == half:
            new = voice_print(telephone(utts[0], channel=channel), sample_rate_hz=RATE_HZ, model=model).vector
            if new is not None:
                enrolled[s] = {"dataset": dataset, "half": half, "campplus": new, "campplus_extra": []}
    # Every speaker takes part in the draws as in --windowed, so the half's outputs are the same.
    mixes = ((meta, x) for meta, x in windowed_mixes(people, dict.fromkeys(people), music_dir)
             if meta["half"] == half and meta["background"] == "speech")
    outputs = [meta | output_prints(model, telephone(x, channel=channel)) for k, (meta, x) in enumerate(mixes)
               if k % PARTS == part]
    return {"enrolled": enrolled, "outputs": outputs, "engine": model.engine}


def channel_outputs(cache: Path, music_dir: Path | None = None, channel: str = "g711", half: str = "A") -> dict:
    """``half``'s speech outputs and enrolments through :func:`telephone`, printed as ``consentry check`` prints
    them (kept in ``cache``)."""
    import subprocess
    import sys

    if cache.is_file():
        data = cached(cache, CHANNEL_RECIPE, "channel recipe", "--channel-cache")
        if data.get("channel", "g711") != channel:
            raise SystemExit(f"{cache}: made with the {data.get('channel', 'g711')} channel, not {channel}")
        if data.get("half", "A") != half:
            raise SystemExit(f"{cache}: made of half {data.get('half', 'A')}'s outputs, not half {half}'s")
        return data
    parts = [cache.with_name(f"{cache.name}.part{k}") for k in range(PARTS)]
    code = ("import pickle, sys; from pathlib import Path; sys.path.insert(0, {here!r}); "
            "from voice_channel import channel_part; "
            "pickle.dump(channel_part({k}, {music!r} and Path({music!r}), {channel!r}, {half!r}), open({out!r}, 'wb'))")
    procs = [subprocess.Popen([sys.executable, "-c", code.format(here=str(Path(__file__).resolve().parent), k=k,
                                                                 music=str(music_dir) if music_dir else None,
                                                                 channel=channel, half=half,
                                                                 out=str(p))]) for k, p in enumerate(parts)]
    if any(p.wait() for p in procs):
        raise SystemExit("--channel-cache: a part failed")
    pieces = [pickle.loads(p.read_bytes()) for p in parts]
    enrolled = pieces[0]["enrolled"]
    outputs = sorted((o for piece in pieces for o in piece["outputs"]), key=lambda o: (o["probe"], o["at_s"]))
    data = {"enrolled": enrolled, "outputs": [o for o in outputs if o["probe"] in enrolled],
            "engine": pieces[0]["engine"], "recipe": CHANNEL_RECIPE, "channel": channel, "half": half}
    cache.parent.mkdir(parents=True, exist_ok=True)
    with open(cache, "wb") as fh:
        pickle.dump(data, fh)
    for p in parts:
        p.unlink()
    return data
