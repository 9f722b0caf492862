"""The ISCC (ISO 24138:2024) of a media file, with iscc-core.

Units: Meta-Code (title and creator), Content-Code (Audio-Code from a
Chromaprint fingerprint by ``fpcalc -raw -signed``, Image-Code from
32x32 grey pixels by Pillow), Data-Code and Instance-Code (the file's
bytes); :func:`iscc_codes` combines them into the ISCC-CODE.  A unit that
cannot be made is left out and ``missing`` says why.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

__all__ = ["iscc_codes", "FPCALC_TIMEOUT_S"]

#: Longest a Chromaprint extraction may take (seconds).
FPCALC_TIMEOUT_S = 300


def iscc_codes(path: str | os.PathLike, *, title: str | None = None, creator: str | None = None,
               kind: str | None = None) -> dict:
    """ISCC units and ISCC-CODE of the file at ``path``.

    Parameters
    ----------
    path : str or os.PathLike
        An audio or image file.
    title, creator : str, optional
        Name and description for the Meta-Code (no Meta-Code without a title).
    kind : str, optional
        The file's kind (:data:`~consentry.formats.sniff.KINDS`); sniffed if
        not given.

    Returns
    -------
    dict
        ``{"iscc": str | None, "meta": ..., "audio" or "image": ..., "data": ...,
        "instance": ..., "chromaprint": bool, "missing": {unit: reason}}``;
        codes are ``"ISCC:..."`` strings, a missing unit is absent.

    Raises
    ------
    InputError
        If iscc-core is not installed or the file cannot be read.
    """
    from consentry.domain.errors import InputError
    from consentry.formats.sniff import KINDS, sniff_kind

    try:
        import iscc_core as ic
    except ImportError:
        raise InputError("ISCC needs iscc-core: pip install iscc-core") from None
    path = Path(path)
    try:
        kind = kind or sniff_kind(path)
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    media = KINDS.get(kind or "", {}).get("media")
    out: dict = {"chromaprint": False, "missing": {}}
    if title and title.strip():
        try:
            out["meta"] = ic.gen_meta_code(title, description=creator or None)["iscc"]
        except ValueError as exc:
            out["missing"]["meta"] = f"title unusable for a Meta-Code ({exc})"
    else:
        out["missing"]["meta"] = "no title given"
    if media == "audio":
        vector, why = _chromaprint(path)
        if vector is None:
            out["missing"]["audio"] = why
        else:
            out["audio"] = ic.gen_audio_code(vector)["iscc"]
            out["chromaprint"] = True
    elif media == "image":
        pixels, why = _image_pixels(path)
        if pixels is None:
            out["missing"]["image"] = why
        else:
            out["image"] = ic.gen_image_code(pixels)["iscc"]
    else:
        out["missing"]["content"] = "not an audio or image file Consentry recognises"
    try:
        with open(path, "rb") as stream:
            out["data"] = ic.gen_data_code(stream)["iscc"]
        with open(path, "rb") as stream:
            out["instance"] = ic.gen_instance_code(stream)["iscc"]
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    units = [out[k] for k in ("meta", "audio", "image", "data", "instance") if k in out]
    out["iscc"] = ic.gen_iscc_code(units)["iscc"]
    return out


def _chromaprint(path: Path) -> tuple[list[int] | None, str]:
    """The raw Chromaprint vector of an audio file (signed 32-bit ints), or ``None`` and why."""
    fpcalc = shutil.which("fpcalc")
    if fpcalc is None:
        return None, "fpcalc (Chromaprint) is not installed: apt-get install libchromaprint-tools"
    try:
        run = subprocess.run([fpcalc, "-raw", "-json", "-signed", "-length", "0", os.fspath(path)],
                             capture_output=True, timeout=FPCALC_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"fpcalc failed ({exc})"
    try:
        vector = json.loads(run.stdout.decode("utf-8"))["fingerprint"]
        if not isinstance(vector, list) or not all(isinstance(v, int) for v in vector):
            raise ValueError
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        message = run.stderr.decode("utf-8", "replace").strip().splitlines()
        return None, f"fpcalc gave no fingerprint ({message[-1] if message else 'no output'})"
    if not vector:
        return None, "fpcalc gave an empty fingerprint (audio too short)"
    return vector, ""


def _image_pixels(path: Path) -> tuple[list[int] | None, str]:
    """1024 grey values (32x32) normalised as ISCC asks, or ``None`` and why."""
    try:
        from PIL import Image, ImageChops, ImageOps
    except ImportError:
        return None, "Pillow is not installed (pip install Pillow)"
    try:
        with Image.open(path) as img:
            img = ImageOps.exif_transpose(img)
            if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
                rgba = img.convert("RGBA")
                white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                img = Image.alpha_composite(white, rgba)
            grey = img.convert("L")
            # Crop uniform borders (the colour of the top-left pixel).
            background = Image.new("L", grey.size, grey.getpixel((0, 0)))
            box = ImageChops.difference(grey, background).getbbox()
            if box and box != (0, 0) + grey.size:
                grey = grey.crop(box)
            small = grey.resize((32, 32), Image.Resampling.BICUBIC)
            return list(small.tobytes()), ""
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        return None, f"Pillow cannot decode the image ({exc})"
