"""Texts and images through the server (issues 18, 19): uploaded as works, identified, checked as AI outputs, with
evidence, over real HTTP on 127.0.0.1; the web pages word them in their own terms."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
from PIL import Image
from serverkit import LiveServer, make_world, server_settings, wait_job

WORDS = ("harbour lantern quietly archive measure ledger orchard weaving signal copper meadow distant ferry glass "
         "winter record ballad thistle morning engine spiral granite patient velvet author consent licence reader "
         "island pocket summer letter window garden silver thunder station ribbon village captain shadow").split()


def essay(seed: int, n: int) -> str:
    rng = np.random.default_rng(seed)
    words = [WORDS[i] for i in rng.integers(0, len(WORDS), n)]
    return " ".join(w.capitalize() + "." if i % 12 == 11 else w for i, w in enumerate(words))


def picture(seed: int, size: int = 640) -> Image.Image:
    """Shapes with edges and texture: enough keypoints for the image engine."""
    rng = np.random.default_rng(seed)
    pixels = (rng.integers(0, 255, (size // 16, size // 16, 3))).astype(np.uint8)
    img = Image.fromarray(pixels).resize((size, size), Image.NEAREST)
    from PIL import ImageDraw

    draw = ImageDraw.Draw(img)
    for _ in range(40):
        x, y = rng.integers(0, size - 60, 2)
        w, h = rng.integers(20, 120, 2)
        draw.ellipse([int(x), int(y), int(x + w), int(y + h)], outline=tuple(int(c) for c in rng.integers(0, 255, 3)),
                     width=3)
    return img


def jpeg(img: Image.Image, quality: int = 85) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("media-server")
    world = make_world(root)
    with LiveServer(server_settings(root, world.registry)) as srv:
        yield srv, world


def test_texts_and_images_are_registered_identified_and_checked(server):
    srv, world = server
    ana = srv.client(world.tokens["ana"])
    lic = srv.client(world.tokens["lic"])
    text = essay(7, 900)
    img = picture(3)
    r = ana.post("/api/v1/works", data={"terms": "deny"},
                 files=[("files", ("The Harbour Essay.txt", text.encode(), "text/plain")),
                        ("files", ("Sunrise.jpg", jpeg(img), "image/jpeg"))])
    assert r.status_code == 202, r.text
    job = wait_job(ana, r.json()["job_id"])
    assert job["status"] == "succeeded", job
    works = {w["name"]: w for w in job["result"]["works"]}
    assert set(works) == {"The Harbour Essay.txt", "Sunrise.jpg"}

    # identify now: a passage of the text, inside other words; a crop of the picture
    words = text.split()
    passage = "Some words of our own first. " + " ".join(words[300:420]) + " And an ending of ours."
    r = lic.post("/api/v1/identify", files={"file": ("quote.txt", passage.encode(), "text/plain")})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["medium"] == "text" and body["matches"][0]["work_id"] == works["The Harbour Essay.txt"]["work_id"]
    assert body["matches"][0]["source_name"] == "The Harbour Essay.txt"   # as its owner sent it, not up-….txt
    crop = img.crop((80, 60, 560, 520))
    r = lic.post("/api/v1/identify", files={"file": ("crop.jpg", jpeg(crop, 70), "image/jpeg")})
    assert r.status_code == 200, r.text
    assert r.json()["medium"] == "image" and r.json()["matches"][0]["work_id"] == works["Sunrise.jpg"]["work_id"]

    # checks of AI outputs: findings and a signed evidence bundle each
    r = lic.post("/api/v1/checks", files={"file": ("answer.txt", passage.encode(), "text/plain")})
    assert r.status_code == 202, r.text
    job = wait_job(lic, r.json()["job_id"])
    assert job["status"] == "succeeded", job
    res = job["result"]
    assert res["medium"] == "text" and res["output"] == "answer.txt" and res["findings"] >= 1
    assert res["passages"][0]["work_id"] == works["The Harbour Essay.txt"]["work_id"]
    bundle = lic.get(f"/api/v1/checks/{job['job_id']}/evidence")
    assert bundle.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(bundle.content)).namelist()
    assert {"facts.json", "facts.json.sig", "manifest.json", "report.html"} <= set(names)
    facts = zipfile.ZipFile(io.BytesIO(bundle.content)).read("facts.json").decode()
    assert "answer.txt" in facts and "up-" not in facts and str(srv.settings.data_dir) not in facts
    page = lic.get(f"/app/jobs/{job['job_id']}")
    assert page.status_code == 200 and "words copied" in page.text and "The Harbour Essay" in page.text

    r = lic.post("/api/v1/checks", files={"file": ("generated.jpg", jpeg(crop, 70), "image/jpeg")})
    job = wait_job(lic, r.json()["job_id"])
    assert job["status"] == "succeeded", job
    assert job["result"]["medium"] == "image" and job["result"]["matches"][0]["work_id"] == works["Sunrise.jpg"]["work_id"]
    assert job["result"]["evidence"]

    # still refused: what no engine reads, and a file whose name says audio but is not
    r = ana.post("/api/v1/works", files={"files": ("model.bin", b"\x00\x01\x02\x03" * 300, "application/octet-stream")})
    assert r.status_code == 415 and "not audio, a text or an image" in r.json()["detail"]
    r = ana.post("/api/v1/works", files={"files": ("song.wav", text.encode(), "audio/wav")})
    assert r.status_code == 415 and "not audio" in r.json()["detail"]
    # voice samples stay audio only
    r = ana.post("/api/v1/voices", files={"files": ("me.txt", text.encode(), "text/plain")})
    assert r.status_code == 415 and "not audio" in r.json()["detail"], r.text


def test_the_web_pages_say_what_a_text_or_an_image_is(server):
    srv, world = server
    page = srv.client(world.tokens["ana"]).get("/app/works")
    assert page.status_code == 200 and "recordings, texts or images" in page.text
    assert "The Harbour Essay" in page.text
    assert "characters" in page.text   # the text work's length, not "345:09"
    checks = srv.client(world.tokens["lic"]).get("/app/checks")
    assert checks.status_code == 200 and "copied passages in a text" in checks.text


def test_a_scan_of_images_shows_each_item_found_as_a_thumbnail(server):
    """The web page of a scan and its HTML report show an image item found as a thumbnail, the region outlined."""
    srv, world = server
    ana = srv.client(world.tokens["ana"])
    lic = srv.client(world.tokens["lic"])
    art = picture(21)
    r = ana.post("/api/v1/works", data={"terms": "deny"}, files=[("files", ("Harbour Lights.png", jpeg(art, 95), "image/jpeg"))])
    assert r.status_code == 202 and wait_job(ana, r.json()["job_id"])["status"] == "succeeded"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("set/crop.jpg", jpeg(art.crop((80, 60, 600, 560)), 80))
        z.writestr("set/other.jpg", jpeg(picture(22), 80))
    r = lic.post("/api/v1/scans", files={"dataset": ("set.zip", buf.getvalue(), "application/zip")})
    assert r.status_code == 202, r.text
    job = wait_job(lic, r.json()["job_id"])
    assert job["status"] == "succeeded", job
    scan_id = job["result"]["scan_id"]
    thumb = '<img class="thumb" src="data:image/jpeg;base64,'
    page = lic.get(f"/app/scans/{scan_id}")
    assert page.status_code == 200 and page.text.count(thumb) == 1 and "Harbour Lights" in page.text
    report = lic.get(f"/api/v1/scans/{scan_id}/report/html")
    assert report.status_code == 200 and report.text.count(thumb) == 1


def test_an_uploaded_image_of_one_colour_is_registered_with_a_warning_naming_it(server):
    srv, world = server
    ana = srv.client(world.tokens["ana"])
    flat = Image.new("RGB", (320, 240), (30, 60, 90))
    r = ana.post("/api/v1/works", data={"terms": "deny"},
                 files=[("files", ("Blue Card.png", jpeg(flat, 90), "image/jpeg")),
                        ("files", ("Busy.jpg", jpeg(picture(31)), "image/jpeg"))])
    assert r.status_code == 202, r.text
    job = wait_job(ana, r.json()["job_id"])
    assert job["status"] == "succeeded", job
    assert {w["name"] for w in job["result"]["works"]} == {"Blue Card.png", "Busy.jpg"}
    [w] = job["result"]["warnings"]
    assert w["name"] == "Blue Card.png" and w["warning"].startswith("Blue Card.png: registered, but nothing to identify")
    assert str(srv.settings.data_dir) not in w["warning"]
    page = ana.get(f"/app/jobs/{job['job_id']}")  # the web app's job page says so too, naming the file once
    assert page.status_code == 200 and "Registered, but cannot be found" in page.text
    assert page.text.count("Blue Card.png: registered, but nothing to identify") == 1
