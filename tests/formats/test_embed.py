"""Terms embedded in media files (consentry.formats.embed): C2PA, XMP, ID3/Vorbis/MP4 tags, ISCC; and read back."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import struct
import zlib
from pathlib import Path

import av
import numpy as np
import pytest
from conftest import encode, notes, write_wav
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consentry.io.decode.audio import decode_audio
from consentry.services.embed import EmbedError, SignerConfig, embed_terms, read_embedded_signals
from consentry.formats.embed.iscc import iscc_codes
from consentry.formats.sniff import sniff_kind
from consentry.formats.embed import tags as tagio
from consentry.formats.embed import terms as tm
from consentry.formats.embed import xmp
from consentry.domain.errors import InputError
from consentry.domain.usage import USES
from consentry.domain.signals import combine

c2pa = pytest.importorskip("c2pa")
Image = pytest.importorskip("PIL.Image")
pytest.importorskip("cryptography.x509")
pytest.importorskip("iscc_core")

SR = 22050
TERMS_URL = "https://example.org/terms/works/87c2f239d72ac0e4.html"
AUDIO = ("wav", "aiff", "mp3", "flac", "m4a", "opus")
IMAGES = ("jpg", "png", "webp", "webp-lossy", "tif")
ALL = AUDIO + IMAGES
SIGNABLE = {"wav", "mp3", "flac", "m4a", "jpg", "png", "webp", "webp-lossy", "tif"}
TAG_FAMILY = {"wav": "id3", "aiff": "id3", "mp3": "id3", "flac": "vorbis", "m4a": "mp4", "opus": "vorbis"}
FILE_NAME = {"webp-lossy": "lossy.webp"}


def make_work(**decisions) -> dict:
    uses = {"ai_training": {"decision": "deny"},
            "ai_generative": {"decision": "license", "price": 40.0, "currency": "EUR", "unit": "per-work",
                              "licence_url": "https://example.org/licence"},
            "voice_likeness": {"decision": "deny"}, "tdm": {"decision": "deny"},
            "search_indexing": {"decision": "allow"}}
    for use, decision in decisions.items():
        uses[use] = {"decision": decision} if decision != "license" else {
            "decision": "license", "price": 5.0, "currency": "USD", "unit": "per-item"}
    return {"work_id": "87c2f239d72ac0e4", "title": "Quiet Parade", "creator": "Ana Lima", "creator_id": "ana-lima",
            "terms_version": 3, "terms": {"uses": uses, "valid_from": None, "valid_until": None, "jurisdiction": "EU"}}


WORK = make_work()


# -- test credentials: a throw-away CA and leaf certificates ------------------------------------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A CA and four signers (ES256 "Ana Lima", ES256 "Other Archive", Ed25519, PS256) as PEM files."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    from consentry.testing.pki import certificate, write_signer

    d = tmp_path_factory.mktemp("pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert, ca_name = certificate("Consentry Test CA", ca_key, ca=True)
    ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM)
    (d / "ca.pem").write_bytes(ca_pem)
    signers = {}
    for label, key, alg in (("ana", ec.generate_private_key(ec.SECP256R1()), "es256"),
                            ("other", ec.generate_private_key(ec.SECP256R1()), "es256"),
                            ("ed", ed25519.Ed25519PrivateKey.generate(), "ed25519"),
                            ("ps", rsa.generate_private_key(public_exponent=65537, key_size=2048), "ps256")):
        cn = {"ana": "Ana Lima", "other": "Other Archive", "ed": "Ana Lima (ed25519)", "ps": "Ana Lima (ps256)"}[label]
        chain, key_path = write_signer(d, subject=cn, key=key, ca=(ca_cert, ca_name, ca_key), stem=f"{label}-")
        signers[label] = SignerConfig(chain, key_path, alg=alg)
    return {"ca": ca_pem.decode(), **signers, "dir": d}


# -- test media ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def originals(tmp_path_factory):
    """One file of every supported type (8 s of notes; 48x64 images)."""
    d = tmp_path_factory.mktemp("originals")
    x = notes(5, duration_s=8.0, sr=SR)
    files = {
        "wav": write_wav(d / "song.wav", x, sample_rate_hz=SR),
        "aiff": encode(d / "song.aiff", x, sample_rate_hz=SR, codec="pcm_s16be", container_format="aiff"),
        "mp3": encode(d / "song.mp3", x, sample_rate_hz=SR, codec="libmp3lame", bitrate=64000),
        "flac": encode(d / "song.flac", x, sample_rate_hz=SR, codec="flac"),
        "m4a": encode(d / "song.m4a", x, sample_rate_hz=SR, codec="aac", container_format="ipod"),
        "opus": encode(d / "song.opus", notes(5, duration_s=8.0, sr=48000), sample_rate_hz=48000, codec="libopus",
                       container_format="ogg"),
    }
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:48, 0:64]
    rgb = np.stack([xx * 4, yy * 5, (xx + yy) * 2], axis=-1).astype(np.uint8) ^ rng.integers(0, 16, (48, 64, 3),
                                                                                                dtype=np.uint8)
    img = Image.fromarray(rgb)
    img.save(d / "photo.jpg", quality=90)
    img.save(d / "photo.png")
    img.save(d / "photo.webp", lossless=True)
    img.save(d / "lossy.webp", quality=80)
    img.save(d / "photo.tif")
    files.update({"jpg": d / "photo.jpg", "png": d / "photo.png", "webp": d / "photo.webp",
                  "webp-lossy": d / "lossy.webp", "tif": d / "photo.tif"})
    return files


@pytest.fixture
def copy_of(originals, tmp_path):
    def make(kind: str) -> Path:
        src = originals[kind]
        dest = tmp_path / src.name
        shutil.copyfile(src, dest)
        return dest
    return make


def audio_packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(container.streams.audio[0]) if p.size]


def content_of(kind: str, path: Path):
    """What must never change: decoded samples + compressed audio packets, or decoded pixels."""
    if kind in AUDIO:
        rate = decode_audio(path, sample_rate_hz=8000).source_sample_rate_hz
        return decode_audio(path, sample_rate_hz=rate).samples, audio_packets(path)
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB")), None


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def decisions_by_format(signals) -> dict[str, dict[str, set[str]]]:
    out: dict[str, dict[str, set[str]]] = {}
    for s in signals:
        out.setdefault(s.format, {}).setdefault(s.use, set()).add(s.decision)
    return out


def expected_decisions(work: dict) -> dict[str, str]:
    return {u: work["terms"]["uses"][u]["decision"] for u in USES}


# -- sniffing and the vocabularies -------------------------------------------------------------------


def test_type_is_sniffed_from_content_not_name(originals, tmp_path):
    for kind, expected in (("wav", "wav"), ("png", "png"), ("mp3", "mp3"), ("opus", "ogg"), ("m4a", "mp4"),
                           ("tif", "tiff"), ("aiff", "aiff"), ("webp-lossy", "webp")):
        wrong = tmp_path / f"{kind}.flac"
        shutil.copyfile(originals[kind], wrong)
        assert sniff_kind(wrong) == expected
    (tmp_path / "notes.txt").write_text("hello, not media")
    assert sniff_kind(tmp_path / "notes.txt") is None


def test_cawg_entries_map_every_decision():
    terms = tm.embed_terms_from_work(WORK, terms_url=TERMS_URL)
    entries = tm.cawg_entries(terms)
    assert entries["cawg.ai_training"] == {"use": "notAllowed"}
    assert entries["cawg.data_mining"] == {"use": "notAllowed"}
    for label in ("cawg.ai_generative_training", "cawg.ai_inference"):
        assert entries[label]["use"] == "constrained"
        assert "https://example.org/licence" in entries[label]["constraint_info"]
        assert "40 EUR per-work" in entries[label]["constraint_info"]
    allow = tm.cawg_entries(tm.embed_terms_from_work(make_work(ai_training="allow"), terms_url=TERMS_URL))
    assert allow["cawg.ai_training"] == {"use": "allowed"}
    assert set(entries) == {"cawg.ai_training", "cawg.ai_generative_training", "cawg.ai_inference", "cawg.data_mining"}


@pytest.mark.parametrize("decisions, value", [
    (dict(ai_training="allow", ai_generative="allow", tdm="allow"), "DMI-ALLOWED"),
    (dict(ai_training="deny", ai_generative="deny", tdm="deny", search_indexing="allow"),
     "DMI-PROHIBITED-EXCEPTSEARCHENGINEINDEXING"),
    (dict(ai_training="deny", ai_generative="deny", tdm="deny", search_indexing="deny"), "DMI-PROHIBITED"),
    (dict(ai_training="deny", ai_generative="deny", tdm="allow"), "DMI-PROHIBITED-AIMLTRAINING"),
    (dict(ai_training="allow", ai_generative="deny", tdm="allow"), "DMI-PROHIBITED-GENAIMLTRAINING"),
    (dict(ai_training="deny", ai_generative="license", tdm="deny"), "DMI-PROHIBITED-SEECONSTRAINT"),
    (dict(ai_training="allow", ai_generative="allow", tdm="deny"), "DMI-PROHIBITED-SEECONSTRAINT"),
])
def test_plus_data_mining_value_per_combination(decisions, value):
    terms = tm.embed_terms_from_work(make_work(**decisions), terms_url=TERMS_URL)
    uri = tm.plus_data_mining(terms)
    assert uri == "http://ns.useplus.org/ldf/vocab/" + value
    assert uri in tm.PLUS_VOCAB
    # Reading the value back never states a use more permissively than the terms.
    rank = {"allow": 0, "license": 1, "deny": 2}
    for use, said in tm.PLUS_TO_DECISIONS[uri].items():
        if value != "DMI-PROHIBITED-SEECONSTRAINT":
            assert rank[said] >= rank[terms.uses[use].decision] or use == "search_indexing"


def test_bad_inputs_are_refused_before_any_write(copy_of, pki, tmp_path):
    path = copy_of("wav")
    before = sha(path)
    with pytest.raises(InputError, match="work_id"):
        embed_terms(path, {"title": "x"}, terms_url=TERMS_URL)
    with pytest.raises(InputError, match="https://"):
        embed_terms(path, WORK, terms_url="javascript:alert(1)")
    broken = json.loads(json.dumps(WORK))
    del broken["terms"]["uses"]["tdm"]
    with pytest.raises(InputError, match="tdm"):
        embed_terms(path, broken, terms_url=TERMS_URL)
    with pytest.raises(InputError, match="signing algorithm"):
        embed_terms(path, WORK, terms_url=TERMS_URL, signer=SignerConfig(pki["ana"].cert_chain_pem,
                                                                           pki["ana"].private_key_pem, alg="md5"))
    with pytest.raises(InputError, match="cannot read the private key"):
        embed_terms(path, WORK, terms_url=TERMS_URL, signer=SignerConfig(pki["ana"].cert_chain_pem,
                                                                           tmp_path / "missing.pem"))
    (tmp_path / "notes.txt").write_text("not media at all")
    with pytest.raises(EmbedError, match="not an audio or image type"):
        embed_terms(tmp_path / "notes.txt", WORK, terms_url=TERMS_URL)
    assert sha(path) == before


# -- writing and reading back, per type --------------------------------------------------------------


@pytest.mark.parametrize("kind", ALL)
def test_embed_reads_back_and_never_changes_content(kind, copy_of, pki):
    path = copy_of(kind)
    content_before = content_of(kind, path)
    result = embed_terms(path, WORK, terms_url=TERMS_URL, signer=pki["ana"])

    expected_written = ([TAG_FAMILY[kind]] if kind in TAG_FAMILY else ["xmp"]) + (
        ["c2pa"] if kind in SIGNABLE else [])
    assert result.written == expected_written
    if kind not in SIGNABLE:
        assert any(fmt == "c2pa" and "cannot sign" in why for fmt, why in result.skipped)
    assert not list(path.parent.glob("*.consentry-tmp")), "temporary files left behind"

    # The content is untouched: samples and packets, or pixels.
    samples_after = content_of(kind, path)
    assert np.array_equal(content_before[0], samples_after[0])
    assert content_before[1] == samples_after[1]

    signals, problems = read_embedded_signals(path, trust_anchors_pem=pki["ca"])
    assert problems == []
    by_format = decisions_by_format(signals)
    assert set(by_format) == set(expected_written)
    want = expected_decisions(WORK)
    for fmt in expected_written:
        for use, decisions in by_format[fmt].items():
            assert decisions == {want[use]}, (fmt, use, decisions)
    # Tags, the Consentry assertion and consentry:* XMP state all five uses.
    for fmt in expected_written:
        assert set(by_format[fmt]) == set(USES)
    verdicts = combine(signals)
    assert {u: v.decision for u, v in verdicts.items()} == want
    assert all(not v.contradictions for v in verdicts.values())
    if "c2pa" in expected_written:
        c2pa_signals = [s for s in signals if s.format == "c2pa"]
        assert {s.detail["signer"] for s in c2pa_signals} == {"Ana Lima"}
        assert {s.detail["validation_state"] for s in c2pa_signals} == {"Trusted"}
        licensed = next(s for s in c2pa_signals if s.source.startswith("C2PA org.consentry.terms (ai_generative)"))
        assert licensed.detail["price"] == 40.0 and licensed.detail["currency"] == "EUR"
        assert licensed.detail["work_id"] == "87c2f239d72ac0e4" and licensed.detail["terms_url"] == TERMS_URL
        sources = {s.source for s in c2pa_signals}
        assert f"C2PA cawg.training-mining cawg.ai_inference in {path.name}" in sources
    # Without the test CA the same signature is valid but not trusted.
    untrusted, problems = read_embedded_signals(path)
    assert problems == []
    for s in untrusted:
        if s.format == "c2pa":
            assert s.detail["validation_state"] == "Valid" and s.detail["trusted"] is False
            assert "signingCredential.untrusted" in s.detail["validation_status"]


@pytest.mark.parametrize("kind", ALL)
def test_embedding_twice_is_idempotent_and_new_terms_replace_old(kind, copy_of, pki):
    path = copy_of(kind)
    first = embed_terms(path, WORK, terms_url=TERMS_URL, signer=pki["ana"])
    digest = sha(path)
    second = embed_terms(path, WORK, terms_url=TERMS_URL, signer=pki["ana"])
    assert second.written == [] and sha(path) == digest
    assert all(why == "already up to date" for fmt, why in second.skipped if fmt in first.written)
    assert second.iscc["stored"] == first.iscc["stored"]

    changed = make_work(ai_training="allow", tdm="allow", search_indexing="deny")
    third = embed_terms(path, changed, terms_url=TERMS_URL, signer=pki["ana"])
    assert third.written == first.written
    # The ISCC recorded is still the one of the file before Consentry wrote to it.
    assert third.iscc["stored"]["iscc"] == first.iscc["stored"]["iscc"]
    signals, problems = read_embedded_signals(path, trust_anchors_pem=pki["ca"])
    assert problems == []
    want = expected_decisions(changed)
    for s in signals:
        if s.source.startswith("XMP plus:DataMining"):
            continue  # PLUS states only what its vocabulary can (checked below)
        assert s.decision == want[s.use], s
    data = path.read_bytes()
    if kind in TAG_FAMILY:
        values = tagio.read_tag_values(path, sniff_kind(path), TAG_FAMILY[kind])
        assert values["AI_TRAINING"] == "allow" and values["TDM_RESERVATION"] == "0"
        assert data.count(b"AI_TRAINING") == 1  # replaced, not added
    else:
        packet = xmp.extract_xmp(sniff_kind(path), data)
        assert packet.count(b"DataMining>") == 2  # one element: open + close tag
        assert packet.count(b"<rdf:Description") == 1
        assert b"DMI-PROHIBITED-SEECONSTRAINT" in packet
    if kind in SIGNABLE:
        state = read_manifest_state(path, pki)
        labels = [a["label"] for a in state.assertions]
        assert labels.count("cawg.training-mining") == 1 and labels.count("org.consentry.terms") == 1


def read_manifest_state(path, pki):
    from consentry.formats.embed.c2pa_manifest import read_manifest
    from consentry.formats.sniff import KINDS

    return read_manifest(path, mime=KINDS[sniff_kind(path)]["mime"], trust_anchors_pem=pki["ca"])


def test_out_writes_a_copy_and_leaves_the_source(copy_of, pki, tmp_path):
    path = copy_of("flac")
    before = sha(path)
    out = tmp_path / "copy" / "song-with-terms.flac"
    out.parent.mkdir()
    result = embed_terms(path, WORK, terms_url=TERMS_URL, out=out, signer=pki["ana"])
    assert result.path == out and sha(path) == before
    assert decisions_by_format(read_embedded_signals(out)[0])["vorbis"]["ai_training"] == {"deny"}
    # Up to date already: the copy is still made.
    again = tmp_path / "copy" / "again.flac"
    embed_terms(out, WORK, terms_url=TERMS_URL, out=again, signer=pki["ana"])
    assert sha(again) == sha(out)


def test_a_failed_signing_leaves_the_file_as_it_was(copy_of, pki):
    path = copy_of("png")
    before = sha(path)
    mismatched = SignerConfig(pki["ana"].cert_chain_pem, pki["other"].private_key_pem)
    with pytest.raises(EmbedError, match="C2PA signing failed"):
        embed_terms(path, WORK, terms_url=TERMS_URL, signer=mismatched)
    assert sha(path) == before
    assert not list(path.parent.glob("*.consentry-tmp"))


@pytest.mark.parametrize("label", ["ed", "ps"])
def test_ed25519_and_ps256_signers(copy_of, pki, label):
    path = copy_of("jpg")
    embed_terms(path, WORK, terms_url=TERMS_URL, signer=pki[label])
    signals, problems = read_embedded_signals(path, trust_anchors_pem=pki["ca"])
    assert problems == []
    assert {s.detail["signer"] for s in signals if s.format == "c2pa"} == {f"Ana Lima ({pki[label].alg})"}
    assert {s.detail["validation_state"] for s in signals if s.format == "c2pa"} == {"Trusted"}


def test_without_signer_no_c2pa_and_a_signed_file_is_not_broken(copy_of, pki):
    path = copy_of("mp3")
    result = embed_terms(path, WORK, terms_url=TERMS_URL)
    assert result.written == ["id3"] and ("c2pa", "no signer given") in result.skipped
    embed_terms(path, WORK, terms_url=TERMS_URL, signer=pki["other"])
    signed = sha(path)
    with pytest.raises(EmbedError, match="C2PA manifest signed by Other Archive"):
        embed_terms(path, make_work(ai_training="allow"), terms_url=TERMS_URL)
    assert sha(path) == signed


def test_a_foreign_manifest_is_kept_as_the_parent_ingredient(copy_of, pki):
    path = copy_of("jpg")
    sign_raw(path, pki["other"], [{"label": "c2pa.training-mining",
                                   "data": {"entries": {"c2pa.ai_training": {"use": "allowed"}}}}])
    foreign = read_manifest_state(path, pki).manifest_label
    embed_terms(path, WORK, terms_url=TERMS_URL, signer=pki["ana"])
    with c2pa.Reader("image/jpeg", open(path, "rb")) as reader:
        store = json.loads(reader.json())
    active = store["manifests"][store["active_manifest"]]
    parents = [i for i in active["ingredients"] if i.get("relationship") == "parentOf"]
    assert len(parents) == 1 and parents[0]["active_manifest"] == foreign
    assert foreign in store["manifests"]
    # Only the active manifest speaks: the parent's "allowed" is history.
    signals, problems = read_embedded_signals(path, trust_anchors_pem=pki["ca"])
    assert problems == []
    assert decisions_by_format(signals)["c2pa"]["ai_training"] == {"deny"}


def sign_raw(path: Path, signer: SignerConfig, assertions: list[dict], *, mime: str = "image/jpeg") -> None:
    """Sign ``path`` in place with exactly ``assertions`` (a manifest another tool could have made)."""
    signer_obj = c2pa.Signer.from_info(c2pa.C2paSignerInfo(signer.alg.encode(), signer.cert_chain_pem.read_bytes(),
                                                           signer.private_key_pem.read_bytes(), None))
    builder = c2pa.Builder({"claim_generator_info": [{"name": "other-tool", "version": "1.0"}],
                            "assertions": assertions})
    builder.set_intent(c2pa.C2paBuilderIntent.EDIT)
    out = io.BytesIO()
    with open(path, "rb") as src:
        builder.sign(signer_obj, mime, src, out)
    path.write_bytes(out.getvalue())


CREATED_BY_AI = {"label": "c2pa.actions.v2", "data": {"actions": [
    {"action": "c2pa.created",
     "digitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"}]}}


def sign_with_cawg_identity(path: Path, signer: SignerConfig, assertions: list[dict], *,
                            mime: str = "image/jpeg") -> None:
    """Sign ``path`` in place as a CAWG-aware tool does: the manifest also gets a ``cawg.identity`` assertion
    signed with the same (self-made) X.509 certificate, covering ``cawg.training-mining``.

    c2pa-rs adds the identity assertion only when it signs with the signer of its settings
    (``cawg_x509_signer``); c2pa-python 0.38 signs with that signer only when it believes the context
    holds one, hence ``_has_signer``.
    """
    local = {"alg": signer.alg, "sign_cert": signer.cert_chain_pem.read_text(),
             "private_key": signer.private_key_pem.read_text(), "tsa_url": None}
    config = {"signer": {"local": local},
              "cawg_x509_signer": {"local": dict(local, referenced_assertions=["cawg.training-mining"])},
              "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False},
              "builder": {"thumbnail": {"enabled": False}}}
    context = c2pa.Context(c2pa.Settings.from_dict(config))
    context._has_signer = True
    builder = c2pa.Builder({"claim_generator_info": [{"name": "cawg-tool", "version": "1.0"}],
                            "assertions": assertions}, context)
    out = io.BytesIO()
    with open(path, "rb") as src:
        builder.sign(mime, src, out)
    path.write_bytes(out.getvalue())


def test_a_cawg_identity_from_an_unknown_credential_is_trust_not_integrity(copy_of, pki):
    """`cawg.x509.credential.untrusted` says only that the identity's signer is on no CAWG trust list:
    the manifest is read (Valid, like `signingCredential.untrusted`), so its notAllowed is a deny."""
    from consentry.services.verify import verify_target

    path = copy_of("jpg")
    sign_with_cawg_identity(path, pki["ana"], [CREATED_BY_AI, {"label": "cawg.training-mining", "data": {
        "entries": {"cawg.ai_generative_training": {"use": "notAllowed"}}}}])
    state = read_manifest_state(path, pki)
    assert "cawg.identity" in [a["label"] for a in state.assertions]
    signals, problems = read_embedded_signals(path, trust_anchors_pem=pki["ca"])
    assert problems == []
    c2pa_signals = [s for s in signals if s.format == "c2pa"]
    assert [(s.use, s.decision) for s in c2pa_signals] == [("ai_generative", "deny")]
    assert "cawg.x509.credential.untrusted" in c2pa_signals[0].detail["validation_status"]
    report = verify_target(path)
    assert report.verdicts["ai_generative"].decision == "deny"
    assert report.problems == []


def test_a_manifest_broken_after_signing_is_a_problem_not_a_signal(copy_of, pki):
    path = copy_of("mp3")
    embed_terms(path, WORK, terms_url=TERMS_URL, signer=pki["ana"])
    from mutagen.id3 import ID3, TIT2

    tags = ID3(path)
    tags.add(TIT2(encoding=3, text=["edited after signing"]))
    tags.save(path, v2_version=4)
    signals, problems = read_embedded_signals(path, trust_anchors_pem=pki["ca"])
    assert [p.format for p in problems] == ["c2pa"]
    assert "does not validate" in problems[0].message and problems[0].source.startswith("unreadable signal at")
    assert "c2pa" not in decisions_by_format(signals)
    assert decisions_by_format(signals)["id3"]["ai_training"] == {"deny"}
    # A manifest that is broken already is no reason to refuse new terms without a signer.
    result = embed_terms(path, make_work(ai_training="allow"), terms_url=TERMS_URL)
    assert result.written == ["id3"] and any("already fails validation" in why for _, why in result.skipped)


def test_without_c2pa_python_embedding_skips_and_reading_says_so(copy_of, pki, monkeypatch):
    from consentry.formats.embed import c2pa_manifest

    monkeypatch.setattr(c2pa_manifest, "c2pa_available", lambda: "c2pa-python is not installed")
    path = copy_of("png")
    result = embed_terms(path, WORK, terms_url=TERMS_URL, signer=pki["ana"])
    assert result.written == ["xmp"] and ("c2pa", "c2pa-python is not installed") in result.skipped
    signals, problems = read_embedded_signals(path)
    assert decisions_by_format(signals)["xmp"]["ai_training"] == {"deny"}
    assert [p.message for p in problems] == ["not checked: c2pa-python is not installed"]


def test_out_into_a_missing_folder_is_an_input_error(copy_of, tmp_path):
    with pytest.raises(InputError, match="cannot write there"):
        embed_terms(copy_of("wav"), WORK, terms_url=TERMS_URL, out=tmp_path / "no" / "such" / "song.wav")


@pytest.mark.parametrize("data, message", [
    ({"entries": "not a map"}, "no entries map"),
    ([1, 2, 3], "no entries map"),
    ({"entries": {"cawg.ai_training": {"use": "perhaps"}}}, "'perhaps' is not allowed"),
])
def test_unknown_assertion_shapes_are_problems(copy_of, pki, data, message):
    path = copy_of("jpg")
    sign_raw(path, pki["other"], [{"label": "cawg.training-mining", "data": data}])
    signals, problems = read_embedded_signals(path, trust_anchors_pem=pki["ca"])
    assert signals == []
    assert len(problems) == 1 and message in problems[0].message


# -- XMP -----------------------------------------------------------------------------------------------


FOREIGN_XMP = (b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>'
               b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
               b'<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" '
               b'xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" '
               b'xmlns:plus="http://ns.useplus.org/ldf/xmp/1.0/" photoshop:City="Lisboa" '
               b'plus:DataMining="http://ns.useplus.org/ldf/vocab/DMI-ALLOWED">'
               b'<dc:creator><rdf:Seq><rdf:li>Ana Lima</rdf:li></rdf:Seq></dc:creator>'
               b'<plus:Licensee>Someone &amp; Co</plus:Licensee>'
               b'</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>')


@pytest.mark.parametrize("kind", ["jpg", "png", "webp", "tif"])
def test_existing_xmp_is_merged_not_replaced(kind, copy_of):
    path = copy_of(kind)
    fmt = sniff_kind(path)
    path.write_bytes(xmp.insert_xmp(fmt, path.read_bytes(), FOREIGN_XMP))
    with Image.open(path) as img:
        pixels = np.asarray(img.convert("RGB"))
    embed_terms(path, WORK, terms_url=TERMS_URL)
    embed_terms(path, make_work(ai_training="allow"), terms_url=TERMS_URL)
    packet = xmp.extract_xmp(fmt, path.read_bytes())
    root = xmp.parse_packet(packet)
    ns = {"dc": "http://purl.org/dc/elements/1.1/", "rdf": xmp.NS["rdf"], "plus": xmp.NS["plus"]}
    assert root.find(".//dc:creator/rdf:Seq/rdf:li", ns).text == "Ana Lima"
    assert root.find(".//plus:Licensee", ns).text == "Someone & Co"
    assert any(d.get("{http://ns.adobe.com/photoshop/1.0/}City") == "Lisboa" for d in root.iter(f"{{{ns['rdf']}}}Description"))
    values = [el.text for el in root.iter(f"{{{ns['plus']}}}DataMining")]
    assert values == ["http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED-SEECONSTRAINT"]
    assert b"DMI-ALLOWED" not in packet
    assert b'xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/"' in packet  # the original prefixes are kept
    with Image.open(path) as img:
        assert np.array_equal(pixels, np.asarray(img.convert("RGB")))


def test_xmp_carriers_are_where_readers_look(copy_of):
    from PIL import Image as PILImage

    jpg = copy_of("jpg")
    embed_terms(jpg, WORK, terms_url=TERMS_URL)
    data = jpg.read_bytes()
    segments = list(xmp._jpeg_segments(data))
    assert segments[0][0] == 0xE0 and segments[1][0] == 0xE1  # right after JFIF APP0
    assert data[segments[1][1] + 4:].startswith(b"http://ns.adobe.com/xap/1.0/\x00")

    png = copy_of("png")
    embed_terms(png, WORK, terms_url=TERMS_URL)
    chunks = [c[0] for c in xmp._png_chunks(png.read_bytes())]
    assert chunks[:2] == [b"IHDR", b"iTXt"]

    webp = copy_of("webp-lossy")
    embed_terms(webp, WORK, terms_url=TERMS_URL)
    data = webp.read_bytes()
    chunks = list(xmp._webp_chunks(data))
    assert chunks[0][0] == b"VP8X" and chunks[-1][0] == b"XMP "
    vp8x = data[chunks[0][1]:chunks[0][2]]
    assert vp8x[0] & 0x04
    width = int.from_bytes(vp8x[4:7], "little") + 1
    height = int.from_bytes(vp8x[7:10], "little") + 1
    with PILImage.open(webp) as img:
        assert (width, height) == img.size
        assert "xmp" in img.info or img.getxmp()
    assert struct.unpack("<I", data[4:8])[0] == len(data) - 8


@pytest.mark.parametrize("packet, message", [
    (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
     b'<x:xmpmeta xmlns:x="adobe:ns:meta/">&b;</x:xmpmeta>', "DTD"),
    (b"<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF", "not well-formed"),
    (b"\xff\xfe<\x00x\x00", "not UTF-8"),
    (b"<html><body>hi</body></html>", "root"),
    (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"/>', "no rdf:RDF"),
])
def test_hostile_or_malformed_xmp_is_a_problem(copy_of, packet, message):
    path = copy_of("png")
    data = path.read_bytes()
    body = b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + packet
    chunk = struct.pack(">I", len(body)) + b"iTXt" + body + struct.pack(">I", zlib.crc32(b"iTXt" + body))
    path.write_bytes(data[:33] + chunk + data[33:])
    signals, problems = read_embedded_signals(path)
    assert signals == []
    assert len(problems) == 1 and problems[0].format == "xmp" and message in problems[0].message
    result = embed_terms(path, WORK, terms_url=TERMS_URL)  # not merged into: left alone, and said so
    assert "xmp" not in result.written and any(fmt == "xmp" for fmt, _ in result.skipped)


def test_plus_value_outside_the_vocabulary_and_deferring_values():
    props = {"{%s}DataMining" % xmp.NS["plus"]: "http://ns.useplus.org/ldf/vocab/DMI-MAYBE"}
    from consentry.services.embed import signals_from_xmp

    signals, problems = signals_from_xmp(props, file_label="a.jpg", location="a.jpg")
    assert signals == [] and "not in the PLUS" in problems[0].message
    props = {"{%s}DataMining" % xmp.NS["plus"]: "http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED-SEECONSTRAINT",
             "{%s}Tdm" % xmp.NS["consentry"]: "allow"}
    signals, problems = signals_from_xmp(props, file_label="a.jpg", location="a.jpg")
    assert problems == []
    assert {(s.use, s.decision) for s in signals} == {("tdm", "allow"), ("ai_training", "license"),
                                                      ("ai_generative", "license")}


# -- tags ----------------------------------------------------------------------------------------------


def test_id3_frames_and_vorbis_keys_as_documented(copy_of):
    from mutagen.flac import FLAC
    from mutagen.id3 import ID3

    mp3 = copy_of("mp3")
    embed_terms(mp3, WORK, terms_url=TERMS_URL, iscc=False)
    tags = ID3(mp3)
    assert tags.version == (2, 4, 0)
    assert tags.getall("WCOP")[0].url == TERMS_URL
    txxx = {f.desc: f.text[0] for f in tags.getall("TXXX")}
    assert txxx["AI_TRAINING"] == "deny" and txxx["AI_GENERATIVE"] == "license"
    assert txxx["VOICE_LIKENESS"] == "deny" and txxx["TDM"] == "deny" and txxx["SEARCH_INDEXING"] == "allow"
    assert txxx["AI_TERMS_URL"] == TERMS_URL and txxx["TDM_RESERVATION"] == "1"
    assert txxx["CONSENTRY_WORK_ID"] == "87c2f239d72ac0e4" and txxx["CONSENTRY_TERMS_VERSION"] == "3"
    assert json.loads(txxx["CONSENTRY_TERMS"])["uses"]["ai_generative"]["price"] == 40.0
    assert "ISCC" not in txxx
    assert str(tags.getall("USER")[0].text).startswith("AI use terms (ai_training: deny;")

    flac = copy_of("flac")
    embed_terms(flac, WORK, terms_url=TERMS_URL, iscc=False)
    comments = FLAC(flac).tags
    assert comments["AI_TRAINING"] == ["deny"] and comments["LICENSE"] == [TERMS_URL]


def test_a_foreign_copyright_url_or_licence_is_kept(copy_of):
    from mutagen.flac import FLAC
    from mutagen.id3 import ID3, WCOP

    mp3 = copy_of("mp3")
    tags = ID3(mp3)
    tags.add(WCOP(url="https://label.example/copyright"))
    tags.save(mp3)
    result = embed_terms(mp3, WORK, terms_url=TERMS_URL, iscc=False)
    assert ID3(mp3).getall("WCOP")[0].url == "https://label.example/copyright"
    assert any(fmt == "id3 WCOP" for fmt, _ in result.skipped)

    flac = copy_of("flac")
    audio = FLAC(flac)
    audio["LICENSE"] = ["CC BY-NC 4.0"]
    audio.save()
    embed_terms(flac, WORK, terms_url=TERMS_URL, iscc=False)
    assert FLAC(flac)["LICENSE"] == ["CC BY-NC 4.0"]


def test_tag_values_that_disagree_are_both_reported():
    values = {"TDM": "allow", "TDM_RESERVATION": "1", "AI_TRAINING": "notAllowed", "VOICE_LIKENESS": "sometimes"}
    signals, problems = tagio.signals_from_tags(values, family="id3", file_label="a.mp3", location="a.mp3")
    tdm = sorted((s.decision, s.source) for s in signals if s.use == "tdm")
    assert tdm == [("allow", "ID3 TXXX:TDM in a.mp3"), ("deny", "ID3 TXXX:TDM_RESERVATION in a.mp3")]
    assert combine(signals)["tdm"].contradictions
    assert next(s for s in signals if s.use == "ai_training").decision == "deny"
    assert [p.source for p in problems] == ["unreadable signal at ID3 TXXX:VOICE_LIKENESS in a.mp3"]


# -- fuzzing: readers never raise -----------------------------------------------------------------------

XML_BITS = st.sampled_from([
    "<x:xmpmeta xmlns:x='adobe:ns:meta/'>", "</x:xmpmeta>", "<rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'>",
    "</rdf:RDF>", "<rdf:Description rdf:about=''>", "</rdf:Description>", "<plus:DataMining xmlns:plus='http://ns.useplus.org/ldf/xmp/1.0/'>",
    "</plus:DataMining>", "http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED", "<rdf:Alt>", "<rdf:li xml:lang='x-default'>",
    "</rdf:li>", "</rdf:Alt>", "&amp;", "&lt;", "&#0;", "&unknown;", "<!DOCTYPE x>", "<![CDATA[", "]]>", "\x00", "\ud7ff",
    "<consentry:AiTraining xmlns:consentry='urn:consentry:xmp:terms:1:'>", "</consentry:AiTraining>", "deny", "maybe",
])


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=400), st.lists(st.one_of(XML_BITS, st.text(max_size=8)), max_size=30).map(
    lambda parts: "".join(parts).encode("utf-8", "surrogatepass"))))
def test_fuzz_xmp_packet_reader(packet):
    from consentry.services.embed import signals_from_xmp

    try:
        props = xmp.read_properties(packet)
    except xmp.XmpError:
        return
    signals, problems = signals_from_xmp(props, file_label="f.jpg", location="f.jpg")
    assert all(s.format == "xmp" for s in signals) and all(p.format == "xmp" for p in problems)
    # A packet read once merges cleanly, and the result reads back.
    merged = xmp.merge_packet(packet, {"{%s}DataMining" % xmp.NS["plus"]: "http://x/y"})
    assert xmp.read_properties(merged)["{%s}DataMining" % xmp.NS["plus"]] == "http://x/y"


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["jpeg", "png", "webp", "tiff"]), st.binary(max_size=300))
def test_fuzz_image_containers(kind, tail):
    heads = {"jpeg": b"\xff\xd8", "png": b"\x89PNG\r\n\x1a\n", "webp": b"RIFF\xff\x00\x00\x00WEBP", "tiff": b"II*\x00"}
    try:
        xmp.extract_xmp(kind, heads[kind] + tail)
    except xmp.XmpError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from([*tm.TAG_KEYS, "WCOP", "LICENSE", "USER"]), st.text(max_size=60), max_size=12),
       st.sampled_from(["id3", "vorbis", "mp4"]))
def test_fuzz_tag_values(values, family):
    signals, problems = tagio.signals_from_tags(values, family=family, file_label="f", location="f")
    for s in signals:
        assert s.decision in ("deny", "allow", "license")


@pytest.fixture(scope="module")
def embedded(originals, pki, tmp_path_factory):
    """Every type with the terms embedded (and signed where possible)."""
    d = tmp_path_factory.mktemp("embedded")
    out = {}
    for kind in ("jpg", "png", "webp", "tif", "mp3", "flac", "m4a", "wav", "opus"):
        dest = d / originals[kind].name
        embed_terms(originals[kind], WORK, terms_url=TERMS_URL, out=dest, signer=pki["ana"], iscc=False)
        out[kind] = dest.read_bytes()
    return out


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(["jpg", "png", "webp", "tif", "mp3", "flac", "m4a", "wav", "opus"]), st.data())
def test_fuzz_damaged_files_never_raise(embedded, tmp_path, kind, data):
    blob = bytearray(embedded[kind])
    how = data.draw(st.sampled_from(["truncate", "flip", "splice"]))
    if how == "truncate":
        blob = blob[:data.draw(st.integers(0, len(blob)))]
    elif how == "flip":
        for _ in range(data.draw(st.integers(1, 8))):
            at = data.draw(st.integers(0, min(len(blob), 20000) - 1))
            blob[at] ^= data.draw(st.integers(1, 255))
    else:
        at = data.draw(st.integers(0, min(len(blob), 20000)))
        blob[at:at] = data.draw(st.binary(min_size=1, max_size=64))
    path = tmp_path / f"damaged-{kind}"
    path.write_bytes(bytes(blob))
    signals, problems = read_embedded_signals(path)
    for s in signals:
        assert s.use in USES
    for p in problems:
        assert p.source.startswith("unreadable signal at")


def test_truncated_and_missing_files(embedded, tmp_path):
    path = tmp_path / "cut.mp3"
    path.write_bytes(embedded["mp3"][:200])
    signals, problems = read_embedded_signals(path)
    assert problems and all(p.source.startswith("unreadable signal at") for p in problems)
    signals, problems = read_embedded_signals(tmp_path / "nowhere.wav")
    assert signals == [] and "cannot read" in problems[0].message


# -- ISCC ----------------------------------------------------------------------------------------------


def test_iscc_codes_for_audio_and_images(originals, monkeypatch):
    image = iscc_codes(originals["png"], title="Quiet Parade", creator="Ana Lima")
    assert image["iscc"].startswith("ISCC:") and image["image"].startswith("ISCC:EE")
    assert image["meta"].startswith("ISCC:AA") and image["data"].startswith("ISCC:GA")
    assert image["instance"].startswith("ISCC:IA")
    # Same title, same pixels in another container: same Meta- and Image-Code.
    other = iscc_codes(originals["webp"], title="Quiet Parade", creator="Ana Lima")
    assert other["image"] == image["image"] and other["meta"] == image["meta"]
    assert other["instance"] != image["instance"]
    if shutil.which("fpcalc"):
        audio = iscc_codes(originals["flac"], title="Quiet Parade")
        assert audio["chromaprint"] is True and audio["audio"].startswith("ISCC:EI")
        assert iscc_codes(originals["wav"], title="Quiet Parade")["audio"] == audio["audio"]  # lossless: same audio
    monkeypatch.setattr(shutil, "which", lambda name: None)
    no_fpcalc = iscc_codes(originals["flac"])
    assert "audio" not in no_fpcalc and "fpcalc" in no_fpcalc["missing"]["audio"]
    assert no_fpcalc["missing"]["meta"] == "no title given" and no_fpcalc["iscc"].startswith("ISCC:")


def test_iscc_is_stored_in_the_tags_and_the_manifest(copy_of, pki):
    path = copy_of("mp3")
    before = iscc_codes(path, title="Quiet Parade", creator="Ana Lima")
    result = embed_terms(path, WORK, terms_url=TERMS_URL, signer=pki["ana"])
    assert result.iscc["stored"]["iscc"] == before["iscc"]
    values = tagio.read_tag_values(path, "mp3", "id3")
    assert values["ISCC"] == before["iscc"]
    state = read_manifest_state(path, pki)
    payload = next(a["data"] for a in state.assertions if a["label"] == "org.consentry.terms")
    assert payload["iscc"]["iscc"] == before["iscc"]
    after = iscc_codes(path, title="Quiet Parade", creator="Ana Lima")
    assert after.get("audio") == before.get("audio") and after["instance"] != before["instance"]


# -- what datadiligence sees ------------------------------------------------------------------------------


def test_datadiligence_misses_the_cawg_reservation(copy_of, pki, capsys):
    dd = pytest.importorskip("datadiligence")
    from datadiligence.evaluators import FileEvaluator

    path = copy_of("jpg")
    sign_raw(path, pki["other"], [{"label": "cawg.training-mining",
                                   "data": {"entries": {"cawg.ai_training": {"use": "notAllowed"}}}}])
    assert dd.__version__
    # datadiligence's C2PA rule looks for the C2PA 1.x label c2pa.training-mining only:
    # the CAWG assertion is not seen, so the file is reported as allowed.
    assert FileEvaluator().is_allowed(path=str(path)) is True
    signals, problems = read_embedded_signals(path)
    assert problems == []
    assert [(s.use, s.decision, s.source) for s in signals] == [
        ("ai_training", "deny", f"C2PA cawg.training-mining cawg.ai_training in {path.name}")]

    # The same reservation under the old label is seen by both.
    legacy = copy_of("png")
    sign_raw(legacy, pki["other"], [{"label": "c2pa.training-mining",
                                     "data": {"entries": {"c2pa.ai_training": {"use": "notAllowed"}}}}],
             mime="image/png")
    assert FileEvaluator().is_allowed(path=str(legacy)) is False
    assert [(s.use, s.decision) for s in read_embedded_signals(legacy)[0]] == [("ai_training", "deny")]


def test_xmp_with_an_unknown_encoding_in_its_declaration_is_read_as_utf8():
    from consentry.formats.embed.xmp import merge_packet, parse_packet
    # XMP packets are UTF-8 text; a bogus declared encoding must not crash the reader (expat
    # raises LookupError, not ParseError, when it is asked to honour one).
    bad = (b'<?xml version="1.0" encoding="U-TF-8"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
           b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/></x:xmpmeta>')
    assert parse_packet(bad).tag == "{adobe:ns:meta/}xmpmeta"
    merged = merge_packet(bad, {})
    assert isinstance(merged, bytes) and b"xmpmeta" in merged


# -- declared AI-generated: C2PA actions and IPTC XMP DigitalSourceType ------------------------------------

IPTC_DST = "http://cv.iptc.org/newscodes/digitalsourcetype/"


def _iptc_packet(value: str, *, element: bool = False) -> bytes:
    ns = ('xmlns:x="adobe:ns:meta/"', 'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"',
          'xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"')
    body = (f'<rdf:Description rdf:about=""><Iptc4xmpExt:DigitalSourceType>{value}</Iptc4xmpExt:DigitalSourceType>'
            '</rdf:Description>' if element else f'<rdf:Description rdf:about="" Iptc4xmpExt:DigitalSourceType="{value}"/>')
    return (f'<x:xmpmeta {ns[0]}><rdf:RDF {ns[1]} {ns[2]}>{body}</rdf:RDF></x:xmpmeta>').encode()


@pytest.mark.parametrize("label,code", [("c2pa.actions.v2", "trainedAlgorithmicMedia"), ("c2pa.actions", "trainedAlgorithmicMedia"),
                                        ("c2pa.actions.v2", "compositeWithTrainedAlgorithmicMedia")])
def test_c2pa_actions_declaring_ai_media_are_read(copy_of, pki, label, code):
    """An AI tool's manifest: c2pa.created with an IPTC AI digitalSourceType -> declared AI-generated."""
    from consentry.services.verify import verify_target

    path = copy_of("wav")
    sign_raw(path, pki["other"], [{"label": label, "data": {"actions": [
        {"action": "c2pa.created", "digitalSourceType": IPTC_DST + code}]}}], mime="audio/wav")
    reading = read_embedded_signals(path, trust_anchors_pem=pki["ca"])
    signals, problems = reading            # still a (signals, problems) pair
    assert problems == [] and signals == []
    assert [(a.source_type, a.format, a.value) for a in reading.ai_generated] == [(code, "c2pa", IPTC_DST + code)]
    source = reading.ai_generated[0].source   # c2pa-rs may store a v1 actions assertion as v2
    assert source.startswith("C2PA c2pa.actions") and source.endswith(" c2pa.created in song.wav")
    assert reading.ai_generated[0].detail["signer"] == "Other Archive"
    report = verify_target(path)
    assert report.declared_ai_generated and report.as_dict()["ai_generated"][0]["source_type"] == code


def test_a_camera_capture_or_a_broken_manifest_declares_nothing(copy_of, pki):
    path = copy_of("jpg")
    sign_raw(path, pki["other"], [{"label": "c2pa.actions.v2", "data": {"actions": [
        {"action": "c2pa.created", "digitalSourceType": IPTC_DST + "digitalCapture"}]}}])
    assert read_embedded_signals(path, trust_anchors_pem=pki["ca"]).ai_generated == []
    # Nobody verifiable says it when the manifest no longer validates.
    path = copy_of("mp3")
    sign_raw(path, pki["other"], [CREATED_BY_AI], mime="audio/mpeg")
    from mutagen.id3 import ID3, TIT2

    tags = ID3(path)
    tags.add(TIT2(encoding=3, text=["edited after signing"]))
    tags.save(path, v2_version=4)
    reading = read_embedded_signals(path, trust_anchors_pem=pki["ca"])
    assert reading.ai_generated == [] and [p.format for p in reading.problems] == ["c2pa"]


@pytest.mark.parametrize("kind", ["png", "jpg"])
@pytest.mark.parametrize("element", [False, True])
def test_iptc_xmp_digital_source_type_declares_ai_media(copy_of, kind, element, tmp_path):
    """A hand-made IPTC packet (attribute and element form) in PNG and JPEG; `consentry verify` prints it."""
    import subprocess
    import sys

    path = copy_of(kind)
    fmt = sniff_kind(path)
    path.write_bytes(xmp.insert_xmp(fmt, path.read_bytes(),
                                    _iptc_packet(IPTC_DST + "compositeWithTrainedAlgorithmicMedia", element=element)))
    reading = read_embedded_signals(path)
    assert reading.problems == []
    assert [(a.source_type, a.format, a.source) for a in reading.ai_generated] == [
        ("compositeWithTrainedAlgorithmicMedia", "xmp", f"XMP Iptc4xmpExt:DigitalSourceType in {path.name}")]
    r = subprocess.run([sys.executable, "-m", "consentry.adapters.cli.main", "--registry", str(tmp_path / "r.db"), "verify",
                        str(path)], capture_output=True, text=True, env={**__import__("os").environ, "COLUMNS": "200"},
                       timeout=300)
    assert r.returncode == 0, r.stderr
    assert "declared AI-generated (compositeWithTrainedAlgorithmicMedia): XMP Iptc4xmpExt:DigitalSourceType" in r.stdout
    # Our own terms written later keep the IPTC property, and it is still read.
    embed_terms(path, WORK, terms_url=TERMS_URL)
    assert [a.source_type for a in read_embedded_signals(path).ai_generated] == ["compositeWithTrainedAlgorithmicMedia"]
    assert embed_terms(path, WORK, terms_url=TERMS_URL).written == []   # and the file is up to date


def test_iptc_values_that_do_not_declare_ai():
    from consentry.domain.signals import ai_source_type

    assert ai_source_type(IPTC_DST + "trainedAlgorithmicMedia") == "trainedAlgorithmicMedia"
    assert ai_source_type("https://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia") == \
        "trainedAlgorithmicMedia"
    for value in (IPTC_DST + "digitalCapture", IPTC_DST + "algorithmicMedia", "http://example.org/trainedAlgorithmicMedia",
                  "", None, 3):
        assert ai_source_type(value) is None
