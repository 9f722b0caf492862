"""Speakers from Debian's Festival and Flite voices, for the voice-clone benchmark.

Several voices packaged in Debian were built from recordings of one real
person. Synthesised in their own language, they give what the human data
sets of ``run_voice.py`` lack: **different people of the same language and
sex** (English men awb, rms, kal, ked; Czech men machac, ph and the boy
krb) and **one person in several languages** (nsk: Hindi, Marathi and
Telugu front ends over one diphone database). Synthetic speech built from a
person is not that person's natural speech: it is their recorded diphones or
units, re-timed and re-pitched by the engine.

Install (Debian 12)::

    apt-get install -y flite festival festvox-kallpc16k festvox-kdlpc16k \
        festvox-us-slt-hts festvox-czech-dita festvox-czech-krb \
        festvox-czech-machac festvox-czech-ph festvox-suopuhe-lj \
        festvox-suopuhe-mv festvox-italp16k festvox-itapc16k festvox-hi-nsk \
        festvox-mr-nsk festvox-te-nsk festival-czech festival-hi festival-mr \
        festival-te espeak-ng

``espeak-ng`` is optional: it is the yardstick for the reading check (a
voice whose output is far longer or shorter than espeak-ng's reading of the
same sentences is spelling out characters or dropping them, and is skipped)
and the same-language reference for the nsk voices.

Use from another benchmark (``sys.path`` holds ``benchmarks/``)::

    from voice_tts import tts_speakers
    speakers = tts_speakers(Path(tmp))            # every known voice, skipped ones too
    usable = {k: v for k, v in speakers.items() if v["clips"]}

Run alone (embeds every clip in this process, one thread; 75-110 s on 2 busy cores)::

    .venv/bin/python benchmarks/voice_tts.py > tts.json
    .venv/bin/python benchmarks/voice_tts.py --crop-s 3 > tts3.json   # first 3 s of each clip

The JSON: ``voices`` (metadata per voice used), ``skipped`` (voice: reason),
``same_person_voice_pairs`` (voices of one person, scored as targets),
``all`` (a), ``same_language_same_sex`` (b), ``same_person_across_languages``
(c), ``default_threshold`` (d), ``debian_packages`` (e: versions, licences).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import numpy as np

from consentry.io.decode.audio import decode_audio

RATE_HZ = 16_000
GAP_S = 0.3
CLIP_MIN_S = 8.0
CLIP_MAX_S = 12.0
#: Accepted range of (voice's reading time) / (espeak-ng's reading time) of
#: the same sentences. Measured on correct readings: 0.9-1.4; festival
#: given UTF-8 Czech or Finnish (it wants Latin-2 / Latin-1) reads 2.1-3x
#: longer, spelling out the bytes; a voice that drops characters is shorter.
READING_RATIO_RANGE = (0.5, 1.8)
#: A festival voice is skipped when its front end gives no syllable to more
#: than this share of the words (they would be silently left out).
MAX_UNSPOKEN_SHARE = 0.05
SYNTH_TIMEOUT_S = 120

SENTENCES: dict[str, list[str]] = {
    "english": [
        "My neighbour keeps three old bicycles in the shed behind her house.",
        "The library opens at nine on weekdays and closes early on Saturday.",
        "We walked along the river until the path turned into a muddy field.",
        "A warm wind came from the south and the snow melted in a single night.",
        "He forgot his keys at the office and had to wait for his sister.",
        "The bakery on the corner sells bread, cakes and hot soup in winter.",
        "Most of the guests arrived late because the bridge was closed for repairs.",
        "She wrote a long letter to her grandmother and posted it on Monday.",
        "The old clock in the hall stopped working many years ago.",
        "Our teacher asked us to read two chapters before the next lesson.",
        "When the concert ended, the crowd slowly moved towards the exits.",
        "They painted the kitchen yellow and hung new curtains by the window.",
    ],
    "czech": [
        "Moje sousedka má ve sklepě tři stará jízdní kola.",
        "Knihovna je otevřená od devíti hodin a v sobotu zavírá dříve.",
        "Šli jsme podél řeky, dokud se cesta nezměnila v blátivé pole.",
        "Z jihu foukal teplý vítr a sníh roztál během jediné noci.",
        "Zapomněl klíče v kanceláři a musel čekat na svou sestru.",
        "Pekárna na rohu prodává chléb, koláče a v zimě i horkou polévku.",
        "Většina hostů přišla pozdě, protože most byl uzavřen kvůli opravám.",
        "Napsala babičce dlouhý dopis a v pondělí ho poslala poštou.",
        "Staré hodiny v předsíni se zastavily už před mnoha lety.",
        "Učitel nás požádal, abychom si před další hodinou přečetli dvě kapitoly.",
        "Když koncert skončil, lidé se pomalu vydali k východům.",
        "Kuchyň natřeli nažluto a k oknu pověsili nové záclony.",
    ],
    "finnish": [
        "Naapurini säilyttää kolmea vanhaa polkupyörää talonsa takana olevassa vajassa.",
        "Kirjasto aukeaa arkisin yhdeksältä ja sulkeutuu lauantaisin aikaisin.",
        "Kävelimme joen vartta, kunnes polku muuttui mutaiseksi pelloksi.",
        "Lämmin tuuli puhalsi etelästä, ja lumi suli yhdessä yössä.",
        "Hän unohti avaimensa toimistolle ja joutui odottamaan siskoaan.",
        "Kulmassa oleva leipomo myy leipää, kakkuja ja talvella kuumaa keittoa.",
        "Useimmat vieraat saapuivat myöhässä, koska silta oli suljettu korjausten vuoksi.",
        "Hän kirjoitti isoäidilleen pitkän kirjeen ja postitti sen maanantaina.",
        "Eteisen vanha kello lakkasi toimimasta monta vuotta sitten.",
        "Opettaja pyysi meitä lukemaan kaksi lukua ennen seuraavaa tuntia.",
        "Kun konsertti päättyi, yleisö siirtyi hitaasti kohti uloskäyntejä.",
        "He maalasivat keittiön keltaiseksi ja ripustivat ikkunaan uudet verhot.",
    ],
    "italian": [
        "La mia vicina tiene tre vecchie biciclette nella rimessa dietro la casa.",
        "La biblioteca apre alle nove nei giorni feriali e il sabato chiude presto.",
        "Abbiamo camminato lungo il fiume finché il sentiero è diventato un campo fangoso.",
        "Un vento caldo arrivava da sud e la neve si è sciolta in una sola notte.",
        "Ha dimenticato le chiavi in ufficio e ha dovuto aspettare sua sorella.",
        "Il forno sulla piazza vende pane, torte e d'inverno anche minestra calda.",
        "Quasi tutti gli ospiti sono arrivati tardi perché il ponte era chiuso per lavori.",
        "Ha scritto una lunga lettera alla nonna e l'ha spedita lunedì.",
        "Il vecchio orologio dell'ingresso si è fermato molti anni fa.",
        "L'insegnante ci ha chiesto di leggere due capitoli prima della prossima lezione.",
        "Quando il concerto è finito, la folla si è mossa lentamente verso le uscite.",
        "Hanno dipinto la cucina di giallo e appeso tende nuove alla finestra.",
    ],
    "hindi": [
        "मेरी सहेली अपने घर के पीछे वाले कमरे में तीन पुरानी साइकिलें रखती है।",
        "पुस्तकालय रोज सुबह नौ बजे खुलता है और शनिवार को जल्दी बंद हो जाता है।",
        "हम नदी के किनारे चलते रहे जब तक रास्ता गीले खेत में नहीं बदल गया।",
        "दक्षिण से गरम हवा आई और एक ही रात में सारी बर्फ पिघल गई।",
        "वह अपनी चाबियाँ कार्यालय में भूल गया और अपनी बहन के आने तक बाहर बैठा रहा।",
        "कोने वाली दुकान रोटी, केक और सर्दियों में गरम सूप बेचती है।",
        "अधिकतर मेहमान देर से पहुँचे क्योंकि पुल मरम्मत के लिए बंद था।",
        "उसने अपनी दादी को एक लंबी चिट्ठी लिखी और सोमवार को भेज दी।",
        "बरामदे में रखा पुराना रेडियो बहुत साल पहले बंद हो गया था।",
        "अध्यापक ने कहा कि अगली कक्षा से पहले हम दो अध्याय याद कर लें।",
        "जब संगीत का कार्यक्रम समाप्त हुआ, तो लोग धीरे धीरे बाहर की ओर चले।",
        "उन्होंने रसोई को पीले रंग से रंगा और दरवाजे पर नए पर्दे लगाए।",
    ],
    "marathi": [
        "माझी शेजारीण तिच्या घरामागच्या खोलीत तीन जुन्या सायकली ठेवते.",
        "ग्रंथालय रोज सकाळी नऊ वाजता उघडते आणि शनिवारी लवकर बंद होते.",
        "आम्ही नदीच्या काठाने चालत राहिलो, शेवटी वाट चिखलाच्या शेतात संपली.",
        "दक्षिणेकडून उबदार वारा आला आणि एका रात्रीत सगळा बर्फ वितळला.",
        "तो त्याच्या किल्ल्या कार्यालयात विसरला आणि त्याला बहिणीची वाट पाहावी लागली.",
        "चौकातली दुकान पाव, केक आणि हिवाळ्यात गरम सूप विकते.",
        "बहुतेक पाहुणे उशिरा पोहोचले कारण पूल दुरुस्तीसाठी बंद होता.",
        "तिने आजीला एक लांब पत्र लिहिले आणि सोमवारी पाठवले.",
        "ओसरीतले जुने घड्याळ अनेक वर्षांपूर्वी बंद पडले.",
        "शिक्षकांनी आम्हाला पुढच्या तासाआधी दोन धडे वाचायला सांगितले.",
        "कार्यक्रम संपल्यावर लोक हळूहळू बाहेर जाऊ लागले.",
        "त्यांनी स्वयंपाकघर पिवळ्या रंगाने रंगवले आणि खिडकीला नवे पडदे लावले.",
    ],
    "telugu": [
        "మా పక్కింటావిడ తన ఇంటి వెనుక గదిలో మూడు పాత సైకిళ్ళు ఉంచుతుంది.",
        "గ్రంథాలయం ప్రతిరోజూ ఉదయం తొమ్మిది గంటలకు తెరుస్తారు, శనివారం త్వరగా మూసేస్తారు.",
        "మేము నది ఒడ్డున నడుస్తూ వెళ్ళాము, చివరికి దారి బురద పొలంలో ముగిసింది.",
        "దక్షిణం నుండి వెచ్చని గాలి వచ్చింది, ఒక్క రాత్రిలో మంచు అంతా కరిగిపోయింది.",
        "అతను తాళాలు కార్యాలయంలో మర్చిపోయాడు, అందుకే తన అక్క కోసం ఎదురుచూడాల్సి వచ్చింది.",
        "మూల మీద ఉన్న దుకాణం రొట్టె, కేకులు, చలికాలంలో వేడి సూప్ అమ్ముతుంది.",
        "వంతెన మరమ్మతుల కోసం మూసివేయడంతో చాలా మంది అతిథులు ఆలస్యంగా వచ్చారు.",
        "ఆమె తన అమ్మమ్మకు ఒక పెద్ద ఉత్తరం రాసి సోమవారం పంపింది.",
        "వరండాలోని పాత గడియారం చాలా సంవత్సరాల క్రితం ఆగిపోయింది.",
        "తరువాతి తరగతికి ముందు రెండు అధ్యాయాలు చదవమని మా ఉపాధ్యాయుడు చెప్పారు.",
        "సంగీత కచేరీ ముగిశాక జనం నెమ్మదిగా బయటకు కదిలారు.",
        "వాళ్ళు వంటగదికి పసుపు రంగు వేసి, కిటికీకి కొత్త తెరలు వేలాడదీశారు.",
    ],
}

#: espeak-ng voice per language (reading-time yardstick, nsk reference).
ESPEAK_LANGUAGE = {"english": "en", "czech": "cs", "finnish": "fi", "italian": "it",
                   "hindi": "hi", "marathi": "mr", "telugu": "te"}
#: Festival's front ends read bytes in these encodings (UTF-8 Czech or
#: Finnish is spelled out byte by byte; UTF-8 Italian stops festival).
FESTIVAL_ENCODING = {"english": "ascii", "czech": "iso-8859-2", "finnish": "iso-8859-1", "italian": "iso-8859-1",
                     "hindi": "utf-8", "marathi": "utf-8", "telugu": "utf-8"}

_CMU_TERMS = "permissive (use, modify, redistribute, sell; keep the notice, mark changes, no endorsement)"
#: Licence of each Debian package involved, from /usr/share/doc/<package>/copyright.
PACKAGE_LICENCES = {
    "flite": f"CMU Language Technologies Institute 1999-2001, {_CMU_TERMS}; Debian packaging GPL-3",
    "libflite1": f"same file as flite: CMU LTI 1999-2001, {_CMU_TERMS} (voices kal, kal16, awb, rms, slt)",
    "festival": f"CSTR, University of Edinburgh 1996-2017, {_CMU_TERMS}",
    "festlex-cmu": f"CSTR, {_CMU_TERMS}; CMUDICT under a similar free licence",
    "festlex-poslex": f"CSTR, {_CMU_TERMS}",
    "festvox-kallpc16k": f"Alan W Black and Kevin Lenzo 1998, {_CMU_TERMS}",
    "festvox-kdlpc16k": f"CSTR, University of Edinburgh 1997, {_CMU_TERMS}",
    "festvox-us-slt-hts": f"EST-2003 / EST-2000 (Carnegie Mellon University, {_CMU_TERMS}); "
                          "HTS feat.list BSD-3-clause (Nagoya / Tokyo Institutes of Technology)",
    "festival-czech": "GPL-2+ (Brailcom 2005)",
    "festvox-czech-dita": "GPL-3+ (Brailcom 2005-2011); build tools CMU permissive",
    "festvox-czech-krb": "GPL-3+ (Brailcom 2005-2011); build tools CMU permissive",
    "festvox-czech-machac": "GPL-3+ (Brailcom 2005-2011); build tools CMU permissive",
    "festvox-czech-ph": "GPL-2+ (Brailcom 2005)",
    "festvox-suopuhe-common": "LGPL-2+ (University of Helsinki, University of Joensuu 2000-2003)",
    "festvox-suopuhe-lj": "LGPL-2+ (University of Helsinki, University of Joensuu 2000-2003)",
    "festvox-suopuhe-mv": "LGPL-2+ (University of Helsinki, University of Joensuu 2000-2003)",
    "festlex-ifd": "GPL-2+ (Italian FESTIVAL Modules, ISTC-SPFD CNR and ITC-irst)",
    "festvox-italp16k": "GPL-2+ (Italian FESTIVAL Modules, ISTC-SPFD CNR and ITC-irst)",
    "festvox-itapc16k": "GPL-2+ (Italian FESTIVAL Modules, ISTC-SPFD CNR and ITC-irst)",
    "festival-hi": "GPL-2+ (Priti Patil, C-DAC Mumbai 2006; Chaitanya Kamisetty 2005)",
    "festival-mr": "GPL-2+ (Priti Patil, C-DAC Mumbai 2006; Chaitanya Kamisetty 2005)",
    "festival-te": "GPL-2+ (Chaitanya Kamisetty; DONLab, IIT Madras 2006)",
    "festvox-hi-nsk": "GPL-2+ (Priti Patil, C-DAC Mumbai 2006; Chaitanya Kamisetty 2005)",
    "festvox-mr-nsk": "GPL-2+ (Priti Patil, C-DAC Mumbai 2006; Chaitanya Kamisetty 2005)",
    "festvox-te-nsk": "GPL-2+ (Chaitanya Kamisetty; DONLab, IIT Madras 2006)",
    "espeak-ng": "GPL-3+ (reference only: formant synthesis, no person)",
}


@dataclass(frozen=True)
class VoiceSource:
    """A Debian TTS voice and the real person it was built from.

    ``person`` names the recorded speaker (voices sharing it are the same
    speaker, whatever the engine); ``age`` is "adult" unless the package says
    otherwise; ``packages`` are the Debian packages the voice needs.
    """

    engine: str
    voice: str
    language: str
    sex: str
    person: str
    packages: tuple[str, ...]
    age: str = "adult"
    note: str = ""

    @property
    def key(self) -> str:
        return f"{self.engine}/{self.voice}"

    @property
    def licence(self) -> str:
        return PACKAGE_LICENCES[self.packages[0]]


_EN = ("festlex-cmu", "festlex-poslex")
_NSK_NOTE = ("the hi, mr and te nsk voices share one byte-identical diphone database (NSKlpc.group, "
             "'a generic voice' covering Indian phonesets, per festvox-te-nsk's HACKING); only the "
             "language front end differs")
VOICES: tuple[VoiceSource, ...] = (
    VoiceSource("flite", "awb", "english", "male", "awb", ("libflite1", "flite"),
                note="CMU ARCTIC awb (Scottish English), clustergen"),
    VoiceSource("flite", "rms", "english", "male", "rms", ("libflite1", "flite"),
                note="CMU ARCTIC rms (US English), clustergen"),
    VoiceSource("flite", "slt", "english", "female", "slt", ("libflite1", "flite"),
                note="CMU ARCTIC slt (US English), clustergen"),
    VoiceSource("flite", "kal", "english", "male", "kal", ("libflite1", "flite"),
                note="kal diphones (US English), 8 kHz"),
    VoiceSource("flite", "kal16", "english", "male", "kal", ("libflite1", "flite"),
                note="kal diphones (US English), 16 kHz"),
    VoiceSource("festival", "kal_diphone", "english", "male", "kal", ("festvox-kallpc16k", "festival", *_EN),
                note="kal diphones, residual-excited LPC"),
    VoiceSource("festival", "ked_diphone", "english", "male", "ked", ("festvox-kdlpc16k", "festival", *_EN),
                note="ked diphones (US English), residual-excited LPC"),
    VoiceSource("festival", "cmu_us_slt_arctic_hts", "english", "female", "slt",
                ("festvox-us-slt-hts", "festival", *_EN), note="CMU ARCTIC slt, HTS statistical model"),
    VoiceSource("festival", "czech_machac", "czech", "male", "machac",
                ("festvox-czech-machac", "festival-czech", "festival")),
    VoiceSource("festival", "czech_ph", "czech", "male", "ph", ("festvox-czech-ph", "festival-czech", "festival"),
                note="the package gives the sex (male), not the age"),
    VoiceSource("festival", "czech_krb", "czech", "male", "krb",
                ("festvox-czech-krb", "festival-czech", "festival"), age="child",
                note="README: 'a complete child male Czech diphone voice'"),
    VoiceSource("festival", "czech_dita", "czech", "female", "dita",
                ("festvox-czech-dita", "festival-czech", "festival")),
    VoiceSource("festival", "suo_fi_lj_diphone", "finnish", "female", "lj",
                ("festvox-suopuhe-lj", "festvox-suopuhe-common", "festival")),
    VoiceSource("festival", "hy_fi_mv_diphone", "finnish", "male", "mv",
                ("festvox-suopuhe-mv", "festvox-suopuhe-common", "festival")),
    VoiceSource("festival", "lp_diphone", "italian", "female", "lp",
                ("festvox-italp16k", "festlex-ifd", "festival")),
    VoiceSource("festival", "pc_diphone", "italian", "male", "pc",
                ("festvox-itapc16k", "festlex-ifd", "festival")),
    VoiceSource("festival", "hindi_NSK_diphone", "hindi", "male", "nsk",
                ("festvox-hi-nsk", "festival-hi", "festival"), note=_NSK_NOTE),
    VoiceSource("festival", "marathi_NSK_diphone", "marathi", "male", "nsk",
                ("festvox-mr-nsk", "festival-mr", "festival"), note=_NSK_NOTE),
    VoiceSource("festival", "telugu_NSK_diphone", "telugu", "male", "nsk",
                ("festvox-te-nsk", "festival-te", "festival"), note=_NSK_NOTE),
)
#: Voices an engine lists that are not speakers for this benchmark.
NOT_SPEAKERS = {
    "flite/awb_time": "limited-domain voice: it can only say the time of day",
}


class VoiceFailed(Exception):
    """A voice gave no usable output; the message is the reason recorded."""


def package_version(name: str) -> str | None:
    """Installed Debian version of ``name`` (dpkg-query), or None."""
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", name],
                             capture_output=True, text=True, check=False)
    except OSError:
        return None
    return out.stdout.strip() or None


def listed_voices() -> dict[str, str | None]:
    """Voices each engine reports: ``{"flite/kal": None, ...}``, or ``{"flite": reason}`` when it cannot be asked."""
    found: dict[str, str | None] = {}
    if shutil.which("flite"):
        out = subprocess.run(["flite", "-lv"], capture_output=True, text=True, check=False, timeout=60)
        names = out.stdout.split(":", 1)[1].split() if ":" in out.stdout else []
        found.update({f"flite/{name}": None for name in names})
    else:
        found["flite"] = "flite is not installed"
    if shutil.which("festival") and shutil.which("text2wave"):
        out = subprocess.run(["festival", "-b", "(print (voice.list))"],
                             capture_output=True, text=True, check=False, timeout=60)
        names = out.stdout.strip().strip("()").split()
        found.update({f"festival/{name}": None for name in names})
    else:
        found["festival"] = "festival (with text2wave) is not installed"
    return found


def _run(command: list[str], *, what: str) -> None:
    try:
        out = subprocess.run(command, capture_output=True, check=False, timeout=SYNTH_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise VoiceFailed(f"{what}: no output within {SYNTH_TIMEOUT_S} s") from None
    if out.returncode != 0:
        tail = out.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no message"]
        raise VoiceFailed(f"{what}: exit code {out.returncode}: {tail[0]}")


def synthesise(source: VoiceSource, text: str, folder: Path) -> np.ndarray:
    """One sentence spoken by ``source``: float32 samples, 16 kHz mono.

    Raises :class:`VoiceFailed` when the engine fails or writes no audio.
    """
    wav = folder / "tts.wav"
    wav.unlink(missing_ok=True)
    if source.engine == "flite":
        _run(["flite", "-voice", source.voice, "-t", text, "-o", str(wav)], what=f"flite -voice {source.voice}")
    elif source.engine == "festival":
        encoding = FESTIVAL_ENCODING[source.language]
        txt = folder / "tts.txt"
        try:
            txt.write_bytes(text.encode(encoding))
        except UnicodeEncodeError as exc:
            raise VoiceFailed(f"sentence not encodable in {encoding}: {exc}") from None
        _run(["text2wave", "-eval", f"(voice_{source.voice})", str(txt), "-o", str(wav)],
             what=f"text2wave (voice_{source.voice})")
    else:
        raise VoiceFailed(f"unknown engine {source.engine!r}")
    if not wav.is_file() or wav.stat().st_size <= 44:
        raise VoiceFailed(f"{source.key} wrote no audio for {text[:40]!r}")
    try:
        samples = decode_audio(wav, sample_rate_hz=RATE_HZ).samples
    except Exception as exc:  # the engine's file is unreadable: the voice is unusable
        raise VoiceFailed(f"{source.key}: output not decodable: {exc}") from None
    if len(samples) == 0 or float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) < 1e-4:
        raise VoiceFailed(f"{source.key}: silent output for {text[:40]!r}")
    return samples.astype(np.float32, copy=False)


def festival_unspoken_words(source: VoiceSource, sentences: list[str], folder: Path) -> int:
    """Words of ``sentences`` to which festival's front end gives no syllable (so they are not spoken).

    Festival drops, silently, words it cannot read: Devanagari letters with a
    nukta (``ड़``, ``ज़``) in festival-hi, for one. Counted as whitespace
    tokens minus the words that have at least one syllable.
    """
    script = [f"(voice_{source.voice})"]
    for text in sentences:
        quoted = text.replace("\\", "\\\\").replace('"', '\\"')
        script.append(f'(set! u (utt.synth (Utterance Text "{quoted}")))')
        script.append("(format t \"%d\\n\" (apply + (cons 0 (mapcar (lambda (w) (if (item.relation.daughters w "
                      "'SylStructure) 1 0)) (utt.relation.items u 'Word)))))")
    path = folder / "words.scm"
    try:
        path.write_bytes("\n".join(script).encode(FESTIVAL_ENCODING[source.language]))
    except UnicodeEncodeError as exc:
        raise VoiceFailed(f"sentence not encodable in {FESTIVAL_ENCODING[source.language]}: {exc}") from None
    try:
        out = subprocess.run(["festival", "-b", str(path)], capture_output=True, check=False,
                             timeout=SYNTH_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise VoiceFailed(f"festival (voice_{source.voice}): no word analysis within {SYNTH_TIMEOUT_S} s") from None
    counts = [int(line) for line in out.stdout.decode("ascii", "replace").split() if line.isdigit()]
    if len(counts) != len(sentences):
        raise VoiceFailed(f"festival (voice_{source.voice}) could not analyse the sentences")
    return sum(max(0, len(text.split()) - n) for text, n in zip(sentences, counts))


def espeak(text: str, language: str, folder: Path) -> np.ndarray:
    """``text`` read by espeak-ng's default voice of ``language`` (float32, 16 kHz)."""
    wav = folder / "espeak.wav"
    subprocess.run(["espeak-ng", "-v", ESPEAK_LANGUAGE[language], "-w", str(wav), text],
                   check=True, capture_output=True, timeout=SYNTH_TIMEOUT_S)
    return decode_audio(wav, sample_rate_hz=RATE_HZ).samples.astype(np.float32, copy=False)


def assemble_clips(say, sentences: list[str], *, n_utterances: int) -> tuple[list[np.ndarray], dict[int, float]]:
    """Clips of ``CLIP_MIN_S``-``CLIP_MAX_S`` s from consecutive sentences.

    ``say(text) -> samples`` speaks one sentence. Sentences are taken in
    order (wrapping round), joined with ``GAP_S`` of silence until a clip
    lasts ``CLIP_MIN_S``; a longer clip is cut at ``CLIP_MAX_S``. Returns
    the clips and ``{sentence index: its length (s)}`` of the sentences spoken.
    """
    gap = np.zeros(int(GAP_S * RATE_HZ), dtype=np.float32)
    spoken: dict[int, np.ndarray] = {}
    clips, cursor = [], 0
    for _ in range(n_utterances):
        parts: list[np.ndarray] = []
        length = 0
        while length < CLIP_MIN_S * RATE_HZ:
            index = cursor % len(sentences)
            cursor += 1
            if index not in spoken:
                spoken[index] = say(sentences[index])
            if parts:
                parts.append(gap)
            parts.append(spoken[index])
            length = sum(len(p) for p in parts)
        clips.append(np.concatenate(parts)[: int(CLIP_MAX_S * RATE_HZ)])
    return clips, {index: len(samples) / RATE_HZ for index, samples in sorted(spoken.items())}


def tts_speakers(folder: Path, *, n_utterances: int = 4) -> dict[str, dict]:
    """Clips of every known Debian Festival/Flite voice that the engines list.

    Parameters
    ----------
    folder : Path
        A scratch folder for the engines' WAV files (left with a few files).
    n_utterances : int
        Clips per voice; each is 8-12 s of the voice reading sentences of
        its own language (:data:`SENTENCES`), at 16 kHz.

    Returns
    -------
    dict
        ``{"flite/awb": {...}, "festival/czech_machac": {...}, ...}`` in key
        order. Each value has ``engine``, ``voice``, ``language``, ``sex``,
        ``age``, ``person`` (the recorded speaker: the same person under two
        engines is one speaker), ``licence``, ``packages``, ``note``,
        ``clips`` (list of float32 arrays, shape (n,), 16 kHz mono),
        ``reading_ratio`` (reading time / espeak-ng's for the same
        sentences, None without espeak-ng), ``unspoken_words`` (festival
        only: words its front end gave no syllable) and ``skipped``: None, or why
        the voice gave no clips (then ``clips`` is empty). Voices that an
        engine lists but that this module knows nothing about, or that are
        no speaker (``flite/awb_time``), are entries with ``skipped`` set
        and ``person`` None. Same input, same output: the engines are
        deterministic and the sentences fixed.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    listed = listed_voices()
    known = {source.key: source for source in VOICES}
    use_espeak = shutil.which("espeak-ng") is not None
    espeak_s: dict[tuple[str, int], float] = {}
    out: dict[str, dict] = {}
    for key in sorted(set(known) | {k for k in listed if "/" in k}):
        source = known.get(key)
        if source is None:
            engine, voice = key.split("/", 1)
            out[key] = {"engine": engine, "voice": voice, "language": None, "sex": None, "age": None,
                        "person": None, "licence": None, "packages": [], "note": "", "clips": [],
                        "reading_ratio": None, "unspoken_words": None,
                        "skipped": NOT_SPEAKERS.get(key, "not described in voice_tts.VOICES (person unknown)")}
            continue
        entry = {"engine": source.engine, "voice": source.voice, "language": source.language, "sex": source.sex,
                 "age": source.age, "person": source.person, "licence": source.licence,
                 "packages": list(source.packages), "note": source.note, "clips": [], "reading_ratio": None,
                 "unspoken_words": None, "skipped": None}
        out[key] = entry
        if key not in listed:
            entry["skipped"] = listed.get(source.engine) or f"{source.engine} does not list voice {source.voice}"
            continue
        sentences = SENTENCES[source.language]
        try:
            clips, used = assemble_clips(lambda text: synthesise(source, text, folder), sentences,
                                         n_utterances=n_utterances)
            if source.engine == "festival":
                spoken_text = [sentences[i] for i in used]
                entry["unspoken_words"] = festival_unspoken_words(source, spoken_text, folder)
                n_words = sum(len(text.split()) for text in spoken_text)
                if entry["unspoken_words"] > MAX_UNSPOKEN_SHARE * n_words:
                    raise VoiceFailed(f"festival gives no syllable to {entry['unspoken_words']} of {n_words} words")
        except VoiceFailed as exc:
            entry["skipped"] = str(exc)
            continue
        if use_espeak:
            voice_s, reference_s = 0.0, 0.0
            try:
                for index, length_s in used.items():
                    voice_s += length_s
                    if (source.language, index) not in espeak_s:
                        reference = espeak(sentences[index], source.language, folder)
                        espeak_s[source.language, index] = len(reference) / RATE_HZ
                    reference_s += espeak_s[source.language, index]
            except Exception as exc:  # no yardstick (espeak-ng failed): keep the voice, record why
                entry["reading_ratio_error"] = f"espeak-ng failed: {exc}"
                reference_s = 0.0
            if reference_s <= 0:
                entry["clips"] = clips
                continue
            ratio = voice_s / reference_s
            entry["reading_ratio"] = round(ratio, 3)
            low, high = READING_RATIO_RANGE
            if not low <= ratio <= high:
                entry["skipped"] = (f"reading time {ratio:.2f}x espeak-ng's for the same sentences, outside "
                                    f"{low}-{high}: characters spelled out or dropped")
                continue
        entry["clips"] = clips
    return out


def espeak_speakers(folder: Path, languages: list[str], *, n_utterances: int = 4) -> dict[str, list[np.ndarray]]:
    """espeak-ng's default voice per language, clips built like :func:`tts_speakers`'s (no person behind them)."""
    folder = Path(folder)
    return {f"espeak-ng/{ESPEAK_LANGUAGE[language]}":
            assemble_clips(lambda text, lang=language: espeak(text, lang, folder), SENTENCES[language],
                           n_utterances=n_utterances)[0]
            for language in languages}


# --------------------------------------------------------------------------- scoring

def stats(targets, nontargets, *, threshold: float) -> dict:
    """EER, means, false rejects at 1 % false accepts, and shares at ``threshold``."""
    from consentry.engines.voice.score import equal_error_rate, threshold_at_false_accept

    t = np.asarray(targets, dtype=np.float64)
    n = np.asarray(nontargets, dtype=np.float64)
    out: dict = {"n_target": int(len(t)), "n_nontarget": int(len(n))}
    if len(t):
        out["target_mean"] = round(float(t.mean()), 4)
        out["target_min"] = round(float(t.min()), 4)
        out["target_share_at_or_above_threshold"] = round(float(np.mean(t >= threshold)), 4)
    if len(n):
        out["nontarget_mean"] = round(float(n.mean()), 4)
        out["nontarget_max"] = round(float(n.max()), 4)
        out["nontarget_share_at_or_above_threshold"] = round(float(np.mean(n >= threshold)), 4)
    if len(t) and len(n):
        eer, eer_threshold = equal_error_rate(t, n)
        far1 = threshold_at_false_accept(n, false_accept_rate=0.01)
        out |= {"eer": round(eer, 4), "eer_threshold": round(eer_threshold, 4),
                "threshold_far_1pct": round(far1, 4),
                "false_reject_at_far_1pct": round(float(np.mean(t < far1)), 4)}
    return out


def _kind(a: dict, b: dict, same_key: bool) -> str:
    if a["person"] != b["person"]:
        return "different_person"
    if same_key:
        return "same_voice"
    return "same_person_other_language" if a["language"] != b["language"] else "same_person_other_voice"


def score_pairs(voices: dict[str, dict], vectors: dict[str, list[np.ndarray]]) -> list[dict]:
    """Every pair of clips (of one voice or of two): keys, clip indices, kind and score."""
    items = [(key, i, v) for key in sorted(vectors) for i, v in enumerate(vectors[key])]
    pairs = []
    for (ka, ia, va), (kb, ib, vb) in combinations(items, 2):
        a, b = voices[ka], voices[kb]
        pairs.append({"a": ka, "b": kb, "kind": _kind(a, b, ka == kb), "score": float(va @ vb),
                      "same_language": a["language"] == b["language"], "same_sex": a["sex"] == b["sex"]})
    return pairs


def summarise(voices: dict[str, dict], vectors: dict[str, list[np.ndarray]],
              espeak_vectors: dict[str, list[np.ndarray]], *, threshold: float, clip_note: str = "8-12 s") -> dict:
    """Sections (a)-(d) of the report from the clips' voice prints."""
    pairs = score_pairs(voices, vectors)
    targets = [p for p in pairs if p["kind"] != "different_person"]
    nontargets = [p for p in pairs if p["kind"] == "different_person"]
    by_kind = {kind: stats([p["score"] for p in targets if p["kind"] == kind], [], threshold=threshold)
               for kind in ("same_voice", "same_person_other_voice", "same_person_other_language")}
    same_person = sorted({(p["a"], p["b"]) for p in targets if p["a"] != p["b"]})
    engine_of = {key: voices[key]["engine"] for key in vectors}
    nontarget_voice_pairs: dict[tuple[str, str], list[float]] = {}
    for p in nontargets:
        nontarget_voice_pairs.setdefault((p["a"], p["b"]), []).append(p["score"])
    top = sorted(nontarget_voice_pairs.items(), key=lambda item: (-float(np.mean(item[1])), item[0]))[:10]
    result: dict = {
        "same_person_voice_pairs": [
            {"a": a, "b": b, "person": voices[a]["person"],
             "relation": "other language" if voices[a]["language"] != voices[b]["language"]
             else ("other engine" if voices[a]["engine"] != voices[b]["engine"] else "other voice, same engine")}
            for a, b in same_person],
        "all": stats([p["score"] for p in targets], [p["score"] for p in nontargets], threshold=threshold)
        | {"n_voices": len(vectors), "n_people": len({voices[k]["person"] for k in vectors}),
           "targets_by_kind": by_kind,
           "nontargets_same_engine": stats([], [p["score"] for p in nontargets
                                               if engine_of[p["a"]] == engine_of[p["b"]]], threshold=threshold),
           "nontargets_other_engine": stats([], [p["score"] for p in nontargets
                                                if engine_of[p["a"]] != engine_of[p["b"]]], threshold=threshold),
           "top_nontarget_voice_pairs": [
               {"a": a, "b": b, "languages": [voices[a]["language"], voices[b]["language"]],
                "sexes": [voices[a]["sex"], voices[b]["sex"]], "mean": round(float(np.mean(scores)), 4),
                "max": round(float(np.max(scores)), 4)}
               for (a, b), scores in top]},
    }

    # (b) same language, same sex, different person.
    groups: dict[tuple[str, str], set[str]] = {}
    for key in vectors:
        groups.setdefault((voices[key]["language"], voices[key]["sex"]), set()).add(voices[key]["person"])
    groups = {g: people for g, people in groups.items() if len(people) >= 2}
    in_group = {key for key in vectors if (voices[key]["language"], voices[key]["sex"]) in groups}
    slss_n = [p for p in nontargets if p["same_language"] and p["same_sex"]]
    slss_t = [p for p in targets if p["a"] in in_group and p["b"] in in_group and p["same_language"]]
    voice_pairs: dict[tuple[str, str], list[float]] = {}
    for p in slss_n:
        voice_pairs.setdefault((p["a"], p["b"]), []).append(p["score"])
    person_pairs: dict[tuple[str, str, str], list[float]] = {}
    for (a, b), scores in voice_pairs.items():
        people = sorted([voices[a]["person"], voices[b]["person"]])
        person_pairs.setdefault((voices[a]["language"], *people), []).extend(scores)
    per_group = {}
    for language, sex in sorted(groups):
        members = {k for k in in_group if (voices[k]["language"], voices[k]["sex"]) == (language, sex)}
        per_group[f"{language}/{sex}"] = stats(
            [p["score"] for p in slss_t if p["a"] in members],
            [p["score"] for p in slss_n if p["a"] in members], threshold=threshold,
        ) | {"people": sorted(groups[language, sex]), "voices": sorted(members)}
    result["same_language_same_sex"] = {
        "description": "non-targets: clip pairs of different people with the same language and sex; targets: "
                       "clip pairs of one person (same voice, or the same person under another voice/engine) "
                       "among those voices",
        "pooled": stats([p["score"] for p in slss_t], [p["score"] for p in slss_n], threshold=threshold),
        "groups": per_group,
        "person_pairs": [{"language": lang, "a": a, "b": b, "n": len(s), "mean": round(float(np.mean(s)), 4),
                          "max": round(float(np.max(s)), 4),
                          "share_at_or_above_threshold": round(float(np.mean(np.array(s) >= threshold)), 4)}
                         for (lang, a, b), s in sorted(person_pairs.items())],
        "voice_pairs": [{"a": a, "b": b, "n": len(s), "mean": round(float(np.mean(s)), 4),
                         "max": round(float(np.max(s)), 4)}
                        for (a, b), s in sorted(voice_pairs.items())],
    }

    # (c) one person (nsk) across languages.
    nsk = sorted(k for k in vectors if voices[k]["person"] == "nsk")
    cross = [p["score"] for p in targets if p["kind"] == "same_person_other_language" and p["a"] in nsk]
    within = [p["score"] for p in targets if p["kind"] == "same_voice" and p["a"] in nsk]
    other_male = [p["score"] for p in nontargets if (p["a"] in nsk) != (p["b"] in nsk)
                  and voices[p["a"]]["sex"] == voices[p["b"]]["sex"] == "male"]
    espeak_same_language = []
    for key in nsk:
        reference = espeak_vectors.get(f"espeak-ng/{ESPEAK_LANGUAGE[voices[key]['language']]}", [])
        espeak_same_language += [float(u @ v) for u in vectors[key] for v in reference]
    by_language_pair = {}
    for p in targets:
        if p["kind"] == "same_person_other_language" and p["a"] in nsk:
            name = " vs ".join(sorted([voices[p["a"]]["language"], voices[p["b"]]["language"]]))
            by_language_pair.setdefault(name, []).append(p["score"])
    result["same_person_across_languages"] = {
        "person": "nsk",
        "voices": nsk,
        "caveat": _NSK_NOTE + "; Debian has no other person's voice in these languages, so the different-person "
                  "references are other male people in other languages, and espeak-ng's formant voice of the "
                  "same language (no person behind it)",
        "cross_language_same_person": stats(cross, other_male, threshold=threshold),
        "cross_language_by_pair": {k: round(float(np.mean(v)), 4) for k, v in sorted(by_language_pair.items())},
        "same_language_same_voice": stats(within, [], threshold=threshold),
        "different_person_male_other_language": stats([], other_male, threshold=threshold),
        "espeak_ng_same_language": stats([], espeak_same_language, threshold=threshold),
    }

    # (d) the shipped threshold.
    result["default_threshold"] = {
        "threshold": threshold,
        "note": "GE2E is judged at GE2E_THRESHOLD (1% false accepts on 3-s clips of recorded human speech), "
                "CAM++ at WINDOW_THRESHOLD (the threshold consentry check applies to a 3-s window); "
                f"these clips are {clip_note} of synthetic speech",
        "same_language_same_sex_nontarget_share_at_or_above": result["same_language_same_sex"]["pooled"].get(
            "nontarget_share_at_or_above_threshold"),
        "all_nontarget_share_at_or_above": result["all"].get("nontarget_share_at_or_above_threshold"),
        "target_share_at_or_above": {kind: s.get("target_share_at_or_above_threshold") for kind, s in by_kind.items()},
    }
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--utterances", type=int, default=4, help="clips per voice (8-12 s each)")
    parser.add_argument("--crop-s", type=float, default=None,
                        help="score only the first CROP_S seconds of every clip (e.g. 3, the length "
                             "GE2E_THRESHOLD was set on)")
    parser.add_argument("--model", choices=("ge2e", "campplus"), default="campplus",
                        help="speaker model: campplus (what consentry check compares; judged at its window "
                             "threshold) or ge2e (the old model; judged at GE2E_THRESHOLD)")
    args = parser.parse_args(argv)
    crop = (lambda c: c[: int(args.crop_s * RATE_HZ)]) if args.crop_s else (lambda c: c)

    from consentry.engines.voice.encoder import embed_voice, load_encoder
    from consentry.engines.voice.model import load_voice_model, voice_print
    from consentry.engines.voice.score import GE2E_THRESHOLD, WINDOW_THRESHOLD

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from machine import run_info

    info = run_info()
    encoder = load_encoder()
    with tempfile.TemporaryDirectory() as tmp:
        voices = tts_speakers(Path(tmp), n_utterances=args.utterances)
        usable = {k: v for k, v in voices.items() if v["clips"]}
        indic = sorted({v["language"] for v in usable.values() if v["person"] == "nsk"})
        espeak_clips = (espeak_speakers(Path(tmp), indic, n_utterances=args.utterances)
                        if shutil.which("espeak-ng") else {})

    def embed_all(clips: dict[str, list[np.ndarray]], no_speech: dict[str, int]) -> dict[str, list[np.ndarray]]:
        vectors = {}
        for key, samples in clips.items():
            prints = [voice_print(crop(c), sample_rate_hz=RATE_HZ) if args.model == "campplus"
                      else embed_voice(crop(c), sample_rate_hz=RATE_HZ) for c in samples]
            no_speech[key] = sum(p.vector is None for p in prints)
            vectors[key] = [p.vector for p in prints if p.vector is not None]
        return {k: v for k, v in vectors.items() if v}

    no_speech: dict[str, int] = {}
    vectors = embed_all({k: v["clips"] for k, v in usable.items()}, no_speech)
    espeak_vectors = embed_all(espeak_clips, {})

    packages = sorted({p for v in voices.values() for p in v["packages"]} | {"flite", "festival", "espeak-ng"})
    result = info | {
        "engine": load_voice_model().engine if args.model == "campplus" else f"voice-ge2e/1/{encoder.parameter_hash}",
        "settings": {"utterances_per_voice": args.utterances, "clip_s": [CLIP_MIN_S, CLIP_MAX_S],
                     "crop_s": args.crop_s,
                     "reading_ratio_range": list(READING_RATIO_RANGE)},
        "voices": {k: {f: v[f] for f in ("engine", "voice", "language", "sex", "age", "person", "licence",
                                          "note", "reading_ratio", "unspoken_words")}
                   | {"clip_s": [round(len(crop(c)) / RATE_HZ, 2) for c in v["clips"]],
                      "no_speech_clips": no_speech.get(k, 0)}
                   for k, v in voices.items() if v["clips"]},
        "skipped": {k: v["skipped"] for k, v in voices.items() if v["skipped"]},
        "espeak_ng_reference": sorted(espeak_vectors),
    }
    threshold = WINDOW_THRESHOLD if args.model == "campplus" else GE2E_THRESHOLD
    result |= summarise(voices, vectors, espeak_vectors, threshold=threshold,
                        clip_note=f"the first {args.crop_s:g} s" if args.crop_s else "8-12 s")
    result["debian_packages"] = {name: {"version": package_version(name), "licence": PACKAGE_LICENCES.get(name)}
                                 for name in packages}
    json.dump(result, sys.stdout, indent=2, ensure_ascii=False)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
