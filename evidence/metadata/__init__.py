"""Pure media-metadata readers: EXIF (JPEG/TIFF/HEIC), MP4/MOV movie headers, and camera file-name patterns.

Every reader is bounded (seek-based reads under a byte and read budget) and never raises for file contents: a
damaged or hostile file gives a result with an ``error`` (or ``problems``), so one bad file never stops an import.
:func:`read_media` is the one entry point per file; docs/media.md describes what is read from which format.
"""

from evidence.metadata.exif import ExifInfo, ExifResult, GeotagError, GpsInfo, geotag_jpeg, read_exif
from evidence.metadata.filenames import (
    FilenameInfo,
    FilenamePattern,
    FilenamePatternError,
    default_patterns,
    parse_filename,
    parse_patterns,
)
from evidence.metadata.isobmff import MetadataFormatError, MovieInfo, MovieResult, exif_block_from_heif, read_movie
from evidence.metadata.media import MediaMetadata, read_media, read_media_stream

__all__ = [
    "ExifInfo", "ExifResult", "FilenameInfo", "FilenamePattern", "FilenamePatternError", "GeotagError", "GpsInfo",
    "MediaMetadata", "MetadataFormatError", "MovieInfo", "MovieResult", "default_patterns", "exif_block_from_heif",
    "geotag_jpeg", "parse_filename", "parse_patterns", "read_exif", "read_media", "read_media_stream", "read_movie",
]  # fmt: skip
