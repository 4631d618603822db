"""The files one report page refers to: small ones inlined as data: URIs, the rest in a folder
beside the page (``<page>_assets/``) under relative URLs, so the page and its folder can be
copied anywhere and opened from disk.

Binary data that the page must read (a PLY for the mesh viewer) is wrapped in a classic script
that stores it base64-encoded in ``window.NERFSPEC_BLOBS``: browsers refuse fetch/XHR of file://
URLs, but they run ``<script src>`` from the same folder.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
from pathlib import Path

from nerfspec.errors import OutputError

MARKER = ".nerfspec-report"  # marks an assets folder this module wrote (safe to prune)
INLINE_LIMIT = 96 * 1024  # bytes; larger files go to the assets folder


def data_uri(data: bytes, mime: str) -> str:
    """``data:<mime>;base64,<data>``."""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def blob_script(key: str, data: bytes) -> bytes:
    """A classic script storing ``data`` base64-encoded as ``window.NERFSPEC_BLOBS[key]``."""
    payload = base64.b64encode(data).decode("ascii")
    return (f"(window.NERFSPEC_BLOBS=window.NERFSPEC_BLOBS||{{}})[{json.dumps(key)}]="
            f"\"{payload}\";\n").encode("ascii")


def safe_name(name: str) -> str:
    """A file name with only [A-Za-z0-9._-] (others become '_'), never empty or hidden."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", name).lstrip(".")
    return cleaned or "asset"


def assets_folder(page: Path) -> Path:
    """``report.html`` -> ``report_assets`` beside it."""
    return page.with_name(page.stem + "_assets")


class AssetWriter:
    """Collects a page's files. ``add_bytes`` / ``add_file`` return the URL to put in the page
    (a data: URI or ``<page>_assets/<name>``); identical content is stored once. ``finish``
    removes files of an earlier page that this one no longer uses."""

    def __init__(self, page: Path, inline_limit: int = INLINE_LIMIT):
        self.page, self.inline_limit = Path(page), inline_limit
        self.folder = assets_folder(self.page)
        self.written: dict[str, str] = {}  # file name -> sha1
        self.by_hash: dict[str, str] = {}  # sha1 -> url
        if self.folder.exists() and not (self.folder / MARKER).is_file() and any(self.folder.iterdir()):
            raise OutputError(f"{self.folder}: exists and was not written by nerfspec report; "
                              "choose another --out")

    @property
    def url_prefix(self) -> str:
        return self.folder.name + "/"

    def _unique(self, name: str) -> str:
        name = safe_name(name)
        stem, dot, ext = name.partition(".")
        k = 1
        while name in self.written:
            k += 1
            name = f"{stem}_{k}{dot}{ext}"
        return name

    def _store(self, name: str, digest: str, write) -> str:
        from nerfspec.run import atomic_write_bytes

        self.folder.mkdir(parents=True, exist_ok=True)
        marker = self.folder / MARKER
        if not marker.exists():
            atomic_write_bytes(marker, b"files of a nerfspec report page\n")
        name = self._unique(name)
        write(self.folder / name, atomic_write_bytes)
        self.written[name] = digest
        url = self.url_prefix + name
        self.by_hash[digest] = url
        return url

    def add_bytes(self, name: str, data: bytes, mime: str, inline: bool | None = None) -> str:
        """URL of ``data``: inline when ``inline`` is True, or None and it is small."""
        digest = hashlib.sha1(data).hexdigest()
        if inline or (inline is None and len(data) <= self.inline_limit):
            return data_uri(data, mime)
        if digest in self.by_hash:
            return self.by_hash[digest]
        return self._store(name, digest, lambda path, write: write(path, data))

    def add_file(self, src: Path, name: str | None = None, mime: str = "application/octet-stream",
                 inline: bool | None = None) -> str:
        """URL of the file ``src``; a large one is hard-linked into the assets folder (copied
        where links are impossible), never read into memory."""
        src = Path(src)
        size = src.stat().st_size
        if inline or (inline is None and size <= self.inline_limit):
            return self.add_bytes(name or src.name, src.read_bytes(), mime, inline=True)
        digest = file_digest(src)
        if digest in self.by_hash:
            return self.by_hash[digest]
        return self._store(name or src.name, digest, lambda path, _write: link_or_copy(src, path))

    def add_blob_script(self, name: str, key: str, data: bytes) -> str:
        """URL of a script that puts ``data`` into ``window.NERFSPEC_BLOBS[key]`` (never inlined)."""
        return self.add_bytes(name, blob_script(key, data), "text/javascript", inline=False)

    def finish(self) -> None:
        """Delete files in the assets folder that this page does not use (an earlier page's)."""
        if not (self.folder / MARKER).is_file():
            return
        for path in self.folder.iterdir():
            if path.name != MARKER and path.name not in self.written and path.is_file():
                path.unlink()


def file_digest(path: Path) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def link_or_copy(src: Path, dst: Path) -> None:
    """Hard-link ``src`` to ``dst`` (replacing it); copy where the file system cannot link."""
    tmp = dst.with_name(f".{dst.name}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(src, tmp)
    except OSError:
        shutil.copyfile(src, tmp)
    os.replace(tmp, dst)
