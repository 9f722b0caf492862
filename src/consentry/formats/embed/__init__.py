"""Terms embedded in media files: XMP, Consentry tags, C2PA manifests, ISCC codes and the embed sniffer
(each renders and parses; the use case that writes them is :mod:`consentry.services.embed`).
"""
