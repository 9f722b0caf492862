"""Images through the services: register a folder, identify a copy with boxes, scan a WebDataset shard."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from consentry import Registry
from consentry.testing.pictures import picture


def _jpeg(px: np.ndarray, quality: int = 80) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(px)).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


@pytest.fixture(scope="module")
def pictures() -> dict[str, np.ndarray]:
    return {name: picture(200 + i, width_px=900, height_px=600) for i, name in enumerate(("a", "b", "c"))}


@pytest.fixture
def library(tmp_path, pictures) -> dict:
    folder = tmp_path / "works"
    folder.mkdir()
    Image.fromarray(pictures["a"]).save(folder / "a.jpg", "JPEG", quality=95)
    Image.fromarray(pictures["b"]).save(folder / "b.png", "PNG")
    Image.fromarray(pictures["c"]).save(folder / "c.webp", "WEBP", quality=95)
    (folder / "notes.log").write_text("not an image")
    return {"folder": folder, "db": tmp_path / "r.db", "tmp": tmp_path}


def test_images_register_and_a_copy_is_identified_with_boxes_and_transform(library, pictures):
    with Registry.open(library["db"]) as reg:
        s = reg.register([library["folder"]], creator="Ines Duarte", terms="deny", workers=1)
        assert not s.errors, s.errors
        by_name = {Path(w.source).name: w for w in s.registered}
        assert set(by_name) == {"a.jpg", "b.png", "c.webp"}
        assert all(w.engine == "consentry-image-pdq-orb" and w.duration_s == 900 * 600 for w in s.registered)
        q = library["tmp"] / "found.jpg"
        q.write_bytes(_jpeg(pictures["b"][:, ::-1], 50))  # mirrored, re-encoded
        [m] = reg.identify(q)
        d = m.as_dict()
        assert d["medium"] == "image" and d["work_id"] == by_name["b.png"].work_id and d["terms"] == "deny"
        assert d["transform"]["mirrored"] is True and abs(d["transform"]["scale"] - 1.0) < 0.02
        assert d["query_box"][0] < 10 and d["query_box"][2] > 890 and d["work_box"][2] > 890
        [r] = reg.identify_many([str(q)])
        out = r.as_dict()
        assert out["medium"] == "image" and out["unit"] == "px" and out["size"] == 900 * 600
        json.dumps(out)
        # A crop of two thirds of the picture, located in the work.
        q.write_bytes(_jpeg(pictures["c"][50:540, 60:800], 85))
        [m] = reg.identify(q)
        wb = m.as_dict()["work_box"]
        assert m.work_id == by_name["c.webp"].work_id and all(abs(a - b) < 15 for a, b in zip(wb, (60, 50, 800, 540)))
        # An unrelated picture finds nothing; the same files again are duplicates.
        q.write_bytes(_jpeg(picture(999)))
        assert reg.identify(q) == []
        again = reg.register([library["folder"]], creator="Ines Duarte", workers=1)
        assert len(again.duplicates) == 3 and not again.registered


def test_a_webdataset_shard_of_images_is_scanned_item_by_item(library, pictures):
    shard = library["tmp"] / "shard-000.tar"
    members = {"0000.jpg": _jpeg(picture(500)), "0001.jpg": _jpeg(pictures["a"][::2, ::2], 70),
               "0002.png": _jpeg(picture(501)), "0003.webp": _jpeg(picture(502))}
    with tarfile.open(shard, "w") as tar:
        for name, data in members.items():
            for member, payload in ((name, data), (name.rsplit(".", 1)[0] + ".txt", b"a caption")):
                info = tarfile.TarInfo(member)
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
    from consentry.services.scan import scan_dataset

    with Registry.open(library["db"]) as reg:
        s = reg.register([library["folder"] / "a.jpg"], creator="Ines Duarte", terms="deny", workers=1)
        summary = scan_dataset(reg, str(shard), workers=1)
        assert summary["source"]["kind"] == "webdataset"
        assert summary["totals"]["items"] == 4 and summary["totals"]["refused"] == 1
        assert summary["totals"]["error"] == 0
        items = list(reg.store.iter_scan_items(summary["scan_id"]))
        found = [it for it in items if it["findings"]]
        assert len(found) == 1 and found[0]["medium"] == "image" and found[0]["unit"] == "px"
        f = found[0]["findings"][0]
        assert f["work_id"] == s.registered[0].work_id and f["medium"] == "image"
        assert abs(f["detail"]["transform"]["scale"] - 0.5) < 0.02 and f["detail"]["work_box"][2] > 890
        # The HTML report words an image item's regions as boxes in pixels.
        from consentry.reporting.scan_report import render_scan_html

        html = render_scan_html(summary, reg.store.iter_scan_items(summary["scan_id"]))
        wb = [int(round(v)) for v in f["detail"]["work_box"]]
        assert f"px {wb[0]},{wb[1]}\u2013{wb[2]},{wb[3]}" in html


def test_a_generated_image_holding_a_registered_one_is_checked_with_a_signed_bundle(library, pictures, tmp_path):
    """The output pastes a registered picture, scaled to 90 % and mirrored, into a new one."""
    import zipfile

    from consentry.services.check.image import check_image_output, is_image_output, write_image_evidence
    from consentry.services.evidence import verify_bundle
    from consentry.services.evidence.keys import registry_key_fingerprint

    canvas = Image.fromarray(picture(777, width_px=1200, height_px=900))
    pasted = Image.fromarray(pictures["a"]).transpose(Image.Transpose.FLIP_LEFT_RIGHT).resize((810, 540))
    canvas.paste(pasted, (400, 300))
    output = tmp_path / "generated.png"
    canvas.save(output, "PNG")
    with Registry.open(library["db"]) as reg:
        [work] = reg.register([library["folder"] / "a.jpg"], creator="Ines Duarte", terms="deny", workers=1).registered
        assert is_image_output(output) and not is_image_output(library["folder"] / "notes.log")
        res = check_image_output(reg, output)
        assert res.error is None and res.has_findings and (res.width_px, res.height_px) == (1200, 900)
        [m] = res.matches
        assert m["work_id"] == work.work_id and m["transform"]["mirrored"] is True
        assert abs(m["transform"]["scale"] - 0.9) < 0.03
        qb = m["query_box"]  # refined with the registered file: the pasted region
        assert all(abs(a - b) < 20 for a, b in zip(qb, (400, 300, 1200, 840))), qb
        json.dumps(res.as_dict())
        bundle = write_image_evidence(reg, res, tmp_path / "evidence")
        bad = check_image_output(reg, library["folder"] / "notes.log")
        assert bad.error and "\n" not in bad.error and "not an image" in bad.error  # the CLI prefixes the name
    with zipfile.ZipFile(bundle) as z:
        names = set(z.namelist())
        assert {"facts.json", "facts.json.sig", "signer.pub", "report.html", "manifest.json", "manifest.json.sig"} <= names
        facts = json.loads(z.read("facts.json"))
        html = z.read("report.html").decode()
    assert facts["medium"] == "image" and facts["matches"][0]["evidence"]["matched_points"]
    assert html.count("<svg") == 2 and html.count("data:image/jpeg;base64,") == 2 and "<circle" in html
    # The matched points re-check with the facts alone: work points mapped by work_to_query land on the output's.
    ev = facts["matches"][0]["evidence"]
    a, b, c, d, e, f = ev["transform"]["work_to_query"]
    err = [abs(a * p["work_xy"][0] + b * p["work_xy"][1] + c - p["query_xy"][0]) for p in ev["matched_points"]]
    assert sorted(err)[len(err) // 2] < 5.0
    files = tmp_path / "files"
    files.mkdir()
    for src in (output, library["folder"] / "a.jpg"):
        (files / src.name).write_bytes(src.read_bytes())
    with Registry.open(library["db"]) as reg:
        result = verify_bundle(bundle, registry_fingerprint=registry_key_fingerprint(reg.local_dir), files_dir=files)
    assert result.ok, result


def test_the_cli_words_an_image_match_in_pixels():
    from consentry.adapters.cli.main import _segment_text
    from consentry.reporting.findings import group_matches

    m = {"work_id": "w1", "title": "t", "score": 20.0, "confidence": 0.99, "query_box": [0.0, 10.2, 700.0, 500.0],
         "work_box": [99.4, 48.2, 800.8, 550.7], "transform": {"scale": 0.5, "rotation_deg": -8.2, "mirrored": True},
         "method": "keypoints", "inliers": 20, "pdq_distance": None}
    [g] = group_matches([m])
    assert _segment_text(g["segments"][0]) == "px 0,10-700,500 = 99,48-801,551 (x0.50, -8.2 deg, mirrored)"


def test_terms_embedded_into_a_registered_image_are_read_back_and_it_is_still_found(library):
    import os
    import shutil
    import subprocess
    import sys

    from consentry.services.embed import read_embedded_signals

    with Registry.open(library["db"]) as reg:
        [work] = reg.register([library["folder"] / "a.jpg"], creator="Ines Duarte", terms="deny", workers=1).registered
    copy = library["tmp"] / "a-published.jpg"
    shutil.copy(library["folder"] / "a.jpg", copy)
    out = subprocess.run([sys.executable, "-m", "consentry.adapters.cli.main", "--registry", str(library["db"]), "embed",
                          str(copy), "--base-url", "https://example.org/terms"], capture_output=True, text=True,
                         env={**os.environ, "COLUMNS": "200"}, timeout=300)
    assert out.returncode == 0 and work.work_id in out.stdout and "wrote xmp" in out.stdout, out.stdout + out.stderr
    signals = read_embedded_signals(copy).signals
    assert signals and any("deny" in str(s) for s in signals)
    with Registry.open(library["db"]) as reg:
        [m] = reg.identify(copy)
        assert m.work_id == work.work_id and m.as_dict()["medium"] == "image"


@pytest.fixture
def image_server(pictures):
    """A local HTTP server of three JPEGs: /0.jpg and /2.jpg unrelated, /1.jpg a copy of picture "b" at half size."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    files = {"/0.jpg": _jpeg(picture(600)), "/1.jpg": _jpeg(pictures["b"][::2, ::2], 75), "/2.jpg": _jpeg(picture(601))}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            body = files.get(self.path)
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_parquet_datasets_of_image_bytes_and_of_urls_are_scanned(library, pictures, image_server):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from consentry.services.scan import scan_dataset

    hf = library["tmp"] / "hf.parquet"  # the Hugging Face Image feature: a struct of bytes and path
    images = [{"bytes": _jpeg(picture(610)), "path": "x.jpg"},
              {"bytes": _jpeg(np.ascontiguousarray(pictures["b"][:, ::-1]), 60), "path": "y.jpg"}]
    pq.write_table(pa.table({"image": images, "text": ["a cat", "a copy"]}), hf)
    laion = library["tmp"] / "laion.parquet"  # LAION style: URL and caption
    pq.write_table(pa.table({"url": [f"{image_server}/{i}.jpg" for i in range(3)],
                             "caption": ["one", "two", "three"]}), laion)
    with Registry.open(library["db"]) as reg:
        [work] = reg.register([library["folder"] / "b.png"], creator="Ines Duarte", terms="deny", workers=1).registered
        s = scan_dataset(reg, str(hf), workers=1)
        assert s["totals"]["items"] == 2 and s["totals"]["refused"] == 1 and s["totals"]["error"] == 0
        [hit] = [it for it in reg.store.iter_scan_items(s["scan_id"]) if it["findings"]]
        assert hit["findings"][0]["work_id"] == work.work_id and hit["findings"][0]["detail"]["transform"]["mirrored"]
        s = scan_dataset(reg, str(laion), workers=1, fetch_urls=True)
        assert s["totals"]["items"] == 3 and s["totals"]["refused"] == 1 and s["totals"]["error"] == 0
        [hit] = [it for it in reg.store.iter_scan_items(s["scan_id"]) if it["findings"]]
        assert abs(hit["findings"][0]["detail"]["transform"]["scale"] - 0.5) < 0.02


def test_registering_an_image_with_nothing_to_find_it_by_warns_naming_it(tmp_path, pictures):
    import os
    import subprocess
    import sys

    folder = tmp_path / "plain"
    folder.mkdir()
    Image.fromarray(np.full((300, 400, 3), 200, np.uint8)).save(folder / "grey card.png")
    Image.fromarray(np.zeros((300, 400, 4), np.uint8)).save(folder / "clear.png")  # fully transparent
    Image.fromarray(pictures["a"]).save(folder / "art.jpg", quality=90)
    with Registry.open(tmp_path / "r.db") as reg:
        s = reg.register([folder], creator="Ines Duarte", workers=1)
    assert len(s.registered) == 3 and not s.errors  # registered all the same: the warning says why it is useless
    assert sorted(Path(p).name for p, _ in s.warnings) == ["clear.png", "grey card.png"]
    assert all("nothing to identify it by" in why for _, why in s.warnings)
    env = {**os.environ, "COLUMNS": "300"}
    Image.fromarray(np.full((200, 200, 3), (10, 90, 30), np.uint8)).save(tmp_path / "green.webp")
    cmd = [sys.executable, "-m", "consentry.adapters.cli.main", "--registry", str(tmp_path / "r.db"), "register"]
    out = subprocess.run([*cmd, str(tmp_path / "green.webp")], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0 and "registered 1" in out.stdout, out.stdout + out.stderr
    [line] = [ln for ln in out.stderr.splitlines() if ln.startswith("warning")]
    assert f"{tmp_path / 'green.webp'}: registered, but nothing to identify it by" in line
    Image.fromarray(np.full((200, 200, 3), 255, np.uint8)).save(tmp_path / "white.jpg")
    out = subprocess.run([*cmd, "--json", str(tmp_path / "white.jpg")], capture_output=True, text=True, env=env,
                         timeout=300)
    [w] = json.loads(out.stdout)["warnings"]
    assert out.returncode == 0 and w["path"] == str(tmp_path / "white.jpg") and "single colour" in w["warning"]
