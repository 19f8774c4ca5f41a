"""Headless Chromium for the report tests: screenshot, rendered DOM, network log, PNG pixels.

Chromium runs with no network at all (every host name resolves to nothing) and with a
net log, so a test can show that a report loaded nothing but itself. The PNG reader is
a small zlib decoder (8-bit RGB/RGBA, the five PNG filters): no image library needed.
"""
from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
TIMEOUT = 90  # seconds; a cold start on a busy 2-core machine takes a few
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--hide-scrollbars", "--host-resolver-rules=MAP * ~NOTFOUND")


def available() -> bool:
    return CHROMIUM.exists() or shutil.which("chromium") is not None


def _binary() -> str:
    return str(CHROMIUM) if CHROMIUM.exists() else (shutil.which("chromium") or str(CHROMIUM))


def run(page: Path, workdir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """Run Chromium once on ``page`` with its own profile under ``workdir``."""
    profile = workdir / f"profile-{len(list(workdir.glob('profile-*')))}"
    args = [_binary(), *FLAGS, f"--user-data-dir={profile}", *extra, page.resolve().as_uri()]
    env = {**os.environ, "HOME": str(workdir)}
    done = subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT, env=env, check=False)
    if done.returncode != 0:
        raise AssertionError(f"chromium exited {done.returncode}: {done.stderr[-2000:]}")
    return done


def screenshot(page: Path, png: Path, workdir: Path, *, width: int = 1280, height: int = 2000,
               net_log: Path | None = None) -> None:
    extra = [f"--screenshot={png}", f"--window-size={width},{height}"]
    if net_log is not None:
        extra.append(f"--log-net-log={net_log}")
    run(page, workdir, *extra)
    if not png.exists():
        raise AssertionError(f"chromium wrote no screenshot to {png}")


def dump_dom(page: Path, workdir: Path) -> str:
    """The DOM after Chromium parsed and laid out the page (serialised HTML)."""
    return run(page, workdir, "--dump-dom").stdout


def page_requests(net_log: Path) -> list[str]:
    """URLs the page itself asked the network for, from Chromium's net log (``--log-net-log``).

    The browser's own background requests (update checks, accounts) carry the initiator
    "not an origin"; whatever the page loads (an <img>, a stylesheet, a font) carries the
    page's origin ("null" for a file:// page). The file:// page itself never reaches the log.
    """
    log = json.loads(net_log.read_text(encoding="utf-8", errors="replace"))
    names = {number: name for name, number in log["constants"]["logEventTypes"].items()}
    found = []
    for event in log.get("events", []):
        params = event.get("params") or {}
        if names.get(event.get("type")) == "URL_REQUEST_START_JOB" and "url" in params:
            if params.get("initiator") != "not an origin":
                found.append(params["url"])
    return found


@dataclass(frozen=True)
class Image:
    width: int
    height: int
    channels: int
    rows: list[bytes]  # unfiltered scanlines

    def pixel(self, x: int, y: int) -> tuple[int, ...]:
        start = x * self.channels
        return tuple(self.rows[y][start:start + 3])

    def colours(self, step: int = 4) -> Counter[tuple[int, ...]]:
        """Colours (RGB) on a grid of every ``step``-th pixel, with their counts."""
        found: Counter[tuple[int, ...]] = Counter()
        for y in range(0, self.height, step):
            row, c = self.rows[y], self.channels
            for x in range(0, self.width, step):
                found[tuple(row[x * c:x * c + 3])] += 1
        return found

    def rows_with(self, colour: tuple[int, int, int]) -> list[int]:
        """Row indexes holding at least one pixel of exactly ``colour``."""
        c = self.channels
        return [y for y, row in enumerate(self.rows)
                if any(tuple(row[x:x + 3]) == colour for x in range(0, len(row), c))]


def read_png(path: Path) -> Image:
    """Decode an 8-bit RGB or RGBA, non-interlaced PNG (what Chromium writes)."""
    data = path.read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise AssertionError(f"{path} is not a PNG")
    pos, chunks, header = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            chunks.append(body)
        pos += 12 + length
    if header is None:
        raise AssertionError(f"{path} has no IHDR chunk")
    width, height, depth, colour_type, _, _, interlace = header
    if depth != 8 or colour_type not in (2, 6) or interlace:
        raise AssertionError(f"{path}: unsupported PNG (depth {depth}, colour type {colour_type})")
    channels = 3 if colour_type == 2 else 4
    raw = zlib.decompress(b"".join(chunks))
    stride = width * channels
    if len(raw) != height * (stride + 1):
        raise AssertionError(f"{path}: {len(raw)} bytes of pixels, expected {height * (stride + 1)}")
    return Image(width, height, channels, _unfilter(raw, height, stride, channels))


def _unfilter(raw: bytes, height: int, stride: int, bpp: int) -> list[bytes]:
    rows: list[bytes] = []
    prev = bytes(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], raw[start + 1:start + 1 + stride]
        prev = _unfilter_line(kind, line, prev, bpp)
        rows.append(prev)
    return rows


def _unfilter_line(kind: int, line: bytes, prev: bytes, bpp: int) -> bytes:
    if kind == 0:
        return bytes(line)
    if kind == 2:
        return bytes((a + b) & 255 for a, b in zip(line, prev))
    out = bytearray(line)
    for i in range(len(out)):
        left = out[i - bpp] if i >= bpp else 0
        if kind == 1:
            out[i] = (out[i] + left) & 255
        elif kind == 3:
            out[i] = (out[i] + ((left + prev[i]) >> 1)) & 255
        elif kind == 4:
            out[i] = (out[i] + _paeth(left, prev[i], prev[i - bpp] if i >= bpp else 0)) & 255
        else:
            raise AssertionError(f"unknown PNG filter type {kind}")
    return bytes(out)


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c
