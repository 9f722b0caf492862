"""Dataset readers: turn a folder, manifest, tar shards or zip into items, safely.

``consentry scan SOURCE`` reads a training dataset item by item.  This
package turns SOURCE into a stream of :class:`DatasetItem` in a stable order,
with memory that does not grow with the number of items:

>>> ds = open_dataset("train-{000..127}.tar")              # doctest: +SKIP
>>> for item in ds.items():                                # doctest: +SKIP
...     audio = item.read_bytes(max_bytes=512 * 2**20)

Formats, the id scheme and the safety rules are described in
``docs/sources.md``.
"""

from consentry.io.sources.archives import ArchiveLimits
from consentry.io.sources.dataset import open_dataset
from consentry.io.sources.fetch import FetchError, FetchOptions, fetch_url
from consentry.io.sources.items import Dataset, DatasetItem
from consentry.io.sources.manifest import PATH_COLUMN_NAMES
from consentry.io.sources.patterns import expand_braces, expand_shards
from consentry.formats.sniff import SNIFF_BYTES, is_audio_media, sniff_media

__all__ = [
    "open_dataset",
    "Dataset",
    "DatasetItem",
    "FetchOptions",
    "ArchiveLimits",
    "FetchError",
    "fetch_url",
    "sniff_media",
    "is_audio_media",
    "SNIFF_BYTES",
    "expand_braces",
    "expand_shards",
    "PATH_COLUMN_NAMES",
]
