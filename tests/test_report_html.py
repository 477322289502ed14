"""The HTML leaderboard of a finished tiny run, looked at in headless Chromium.

The page is what ``league.run`` wrote (``tests/conftest.py``'s session run).  Chromium loads it,
reports every image's decoded size, and takes a screenshot; every inline PNG must decode to a
picture that is not one flat colour, and so must the screenshot.
"""

import base64
import io
import json
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium; "
                                                             ".ci/run installs it when missing)")

# Rating by version per role (2), training curves, the player_1 x player_2 payoff panel, the
# reliability diagram, rating against time.
IMAGES = 6


def _chromium(tmp_path, *args):
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp_path / 'profile'}", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


def _flat(img: Image.Image) -> bool:
    pixels = np.asarray(img.convert("RGB"))
    return bool((pixels == pixels[0, 0]).all())


def test_the_page_has_every_section(finished_run):
    page = (finished_run / "leaderboard.html").read_text()
    for heading in ("Learning check", "Training curves", "Payoff between roles", "Rating reliability",
                    "Rating against time"):
        assert f"<h2>{heading}" in page, heading
    assert "<th>return / episode</th>" in page and "<th>± 95 %</th>" in page
    # The learning check: one row per role, in the HTML as in the Markdown.
    table = page[page.index('<table class="learning">'):]
    table = table[:table.index("</table>")]
    assert table.count("<tr><td>player_") == 2
    assert "never met" in page
    assert re.search(r"ECE \d\.\d{3}, Brier", page)


def test_every_inline_png_is_a_picture(finished_run):
    page = (finished_run / "leaderboard.html").read_text()
    data = re.findall(r'<img alt="[^"]*" src="data:image/png;base64,([^"]+)"', page)
    assert len(data) == IMAGES == page.count("<img")
    for b64 in data:
        with Image.open(io.BytesIO(base64.b64decode(b64))) as img:
            assert img.format == "PNG" and min(img.size) > 100
            assert not _flat(img)
            # A plot has axes, text and data: more than a handful of colours.
            assert len(img.convert("RGB").getcolors(maxcolors=1 << 20)) > 20


@needs_chromium
def test_chromium_shows_the_images_and_the_page_is_not_blank(finished_run, tmp_path):
    page = (finished_run / "leaderboard.html").read_text()
    # After load, the page writes each image's decoded size into an attribute --dump-dom prints.
    probe = ("<script>window.addEventListener('load', () => document.body.setAttribute('data-images', "
             "JSON.stringify([...document.images].map(i => [i.naturalWidth, i.naturalHeight, i.complete]))));"
             "</script>")
    probed = tmp_path / "probed.html"
    probed.write_text(page.replace("</body>", probe + "</body>", 1))
    dom = _chromium(tmp_path, "--dump-dom", probed.as_uri()).stdout
    found = re.search(r'data-images="([^"]*)"', dom)
    assert found, dom[:500]
    sizes = json.loads(found.group(1).replace("&quot;", '"'))
    assert len(sizes) == IMAGES
    assert all(w > 100 and h > 100 and done for w, h, done in sizes), sizes

    shot = tmp_path / "shot.png"
    _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1400,3000", (finished_run / "leaderboard.html").as_uri())
    with Image.open(shot) as img:
        assert img.size == (1400, 3000)
        pixels = np.asarray(img.convert("RGB")).astype(int)
    assert not (pixels == pixels[0, 0]).all()
    # Plots and tables cover a good part of the first 3000 px, not a white page with a heading.
    assert (np.abs(pixels - 255).sum(axis=2) > 60).mean() > 0.05


def test_the_leaderboard_command_draws_the_same_evidence(finished_run, tmp_path):
    out = tmp_path / "board.html"
    proc = subprocess.run([sys.executable, "-m", "league.leaderboard", str(finished_run / "pool"), "-f", "html",
                           "-o", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    page, run_page = out.read_text(), (finished_run / "leaderboard.html").read_text()
    # Everything but the learning check, which only the run measures.
    assert page.count("<img") == IMAGES and "Learning check" not in page
    # The same run config's beta and the same log: the same reliability numbers.
    reliability = re.compile(r"<p>Each logged match predicted.*?</p>", re.S)
    assert reliability.search(page).group(0) == reliability.search(run_page).group(0)
