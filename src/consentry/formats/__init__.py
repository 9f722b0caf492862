"""Each signal format once: read and written here, used by publish and verify alike.

- :mod:`.crawlers`: the AI crawler list (one data file, one set of purpose words);
- :mod:`.sniff`: what a file holds, from its magic bytes (datasets, uploads, embedding).

publish writes a site and :func:`consentry.publish.check_site` reads it back;
verify reads anyone's site; both go through the same readers, so a format read
one way by one and another way by the other fails ``tests/test_formats.py``.
"""
