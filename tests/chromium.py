"""Pages rendered in headless Chromium, for the tests of the self-contained HTML pages
(``report --html``, ``whatif --html``): a screenshot, read back as pixel rows."""

import struct
import subprocess
import zlib
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")


def screenshot(page: Path, folder: Path) -> tuple[int, int, list[bytes]]:
    """The page shot at 1280x2000 in headless Chromium: width, height and its pixel rows
    (each a PNG filter byte and the row's pixels). Fails the test when Chromium is missing."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make tools` (deploy/tools/chromium.sh)")
    shot = folder / f"{page.stem}.png"
    subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            f"--user-data-dir={folder / 'profile'}",
            f"--screenshot={shot}",
            "--window-size=1280,2000",
            page.as_uri(),
        ],
        capture_output=True,
        check=True,
        timeout=120,
    )
    width, height, pixels = _png(shot)
    row = len(pixels) // height
    return width, height, [pixels[i * row : (i + 1) * row] for i in range(height)]


def _png(path: Path) -> tuple[int, int, bytes]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    chunks, at = [], 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        if data[at + 4 : at + 8] == b"IDAT":
            chunks.append(data[at + 8 : at + 8 + length])
        at += 12 + length
    return width, height, zlib.decompress(b"".join(chunks))
