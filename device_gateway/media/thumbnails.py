"""Small JPEG previews for the field app. Not evidence: not items, not in any package, made again at will.

Made on one worker thread while the import copies the next files. A JPEG is decoded at reduced scale (Pillow's
draft mode), so a preview costs a few milliseconds and a few MiB however large the photo.
"""

from __future__ import annotations

import logging
import warnings
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from PIL import Image, ImageOps

log = logging.getLogger(__name__)

THUMBNAIL_SIZE = (320, 320)


def make_thumbnail(source: Path, target: Path) -> bool:
    """A preview of ``source`` at ``target``; False (and nothing written) for anything Pillow cannot read."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a decompression bomb warning means: no thumbnail
            with Image.open(source) as image:
                image.draft("RGB", THUMBNAIL_SIZE)  # JPEG: decode at 1/2, 1/4 or 1/8 scale directly
                preview = ImageOps.exif_transpose(image) or image
                preview.thumbnail(THUMBNAIL_SIZE)
                target.parent.mkdir(parents=True, exist_ok=True)
                preview.convert("RGB").save(target, "JPEG", quality=80)
    except Exception as exc:  # any undecodable image: the item stays; it just has no preview
        log.info("no thumbnail for %s: %s", source.name, exc)
        return False
    return True


class ThumbnailMaker:
    """Makes previews in the background; ``close`` waits for them."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="thumbnails")
        self._pending: list[Future[bool]] = []

    def submit(self, source: Path, item_id: str) -> None:
        self._pending.append(self._pool.submit(make_thumbnail, source, self.folder / f"{item_id}.jpg"))

    def close(self) -> int:
        """Wait for every preview; return how many were made."""
        self._pool.shutdown(wait=True)
        return sum(1 for future in self._pending if future.result())
