"""Each signal format once: written and read here, used by publish and verify alike.

- :mod:`.robots`: robots.txt (RFC 9309, ``Content-Usage`` rules) and Spawning ai.txt;
- :mod:`.aipref`: ``Content-Usage`` expressions (draft-ietf-aipref-vocab, RFC 9651 dictionaries);
- :mod:`.tdmrep`: ``/.well-known/tdmrep.json`` and TDM policies (W3C TDMRep);
- :mod:`.rsl`: RSL 1.0 licence documents;
- :mod:`.headers`: per-work HTTP headers, ``headers.json`` and the nginx/Apache/Caddy snippets;
- :mod:`.markup`: ``Link``, ``X-Robots-Tag`` and HTML ``<meta>`` signals;
- :mod:`.crawlers`: the AI crawler list (one data file, one set of purpose words);
- :mod:`.mapping`: registered terms -> each format's values (what publish writes);
- :mod:`.patterns`: RFC 9309 path patterns, and an index for files with thousands of rules;
- :mod:`.text`: safe one-line text and decimals for every format;
- :mod:`.sniff`: what a file holds, from its magic bytes (datasets, uploads, embedding).

publish writes a site and :func:`consentry.services.publish.check_site` reads it back;
verify reads anyone's site; both go through these readers, so a format read
one way by one and another way by the other fails ``tests/formats/test_formats.py``.
XMP, ID3/Vorbis/MP4 tags and C2PA stay in :mod:`consentry.formats.embed` for now.
"""
