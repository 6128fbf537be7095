import os
from pathlib import Path

import cv2
import numpy as np
import pytest

cv2.setNumThreads(1)

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("CLASSICSEG_SHARED_DATA", REPO.parent / "shared" / "data"))


def pytest_collection_modifyitems(config, items):
    skip = pytest.mark.skip(reason=f"real data not found at {SHARED_DATA}")
    if not SHARED_DATA.is_dir():
        for item in items:
            if "realdata" in item.keywords:
                item.add_marker(skip)


@pytest.fixture
def shared_data():
    return SHARED_DATA


@pytest.fixture
def moving_square():
    """A tiny clip: grey background with noise, a bright square moving right from frame 10."""

    def make(n=40, h=48, w=64, size=8, start=10, seed=0):
        rng = np.random.default_rng(seed)
        frames, gts = [], []
        for t in range(n):
            f = np.full((h, w, 3), 90, np.uint8)
            f = np.clip(f + rng.normal(0, 2, f.shape), 0, 255).astype(np.uint8)
            gt = np.zeros((h, w), bool)
            if t >= start:
                x = 4 + (t - start) * 2
                if x + size < w:
                    f[20:20 + size, x:x + size] = 230
                    gt[20:20 + size, x:x + size] = True
            frames.append(f)
            gts.append(gt)
        return frames, gts

    return make


# -- a real browser ---------------------------------------------------------------------
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def _chromium_path():
    import shutil

    for cand in (os.environ.get("CLASSICSEG_CHROMIUM"), shutil.which("chromium"), shutil.which("chromium-browser")):
        if cand and Path(cand).is_file():
            return cand
    return None


@pytest.fixture(scope="session")
def chromium_browser():
    """One headless Chromium (the system's, driven by Playwright's sync API) for the whole
    session: every browser test shares it (a second sync Playwright in one thread fails)."""
    path = _chromium_path()
    if path is None:
        pytest.skip("Chromium not found (Debian: apt-get install -y chromium; or set CLASSICSEG_CHROMIUM): "
                    "browser tests skipped")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright not installed (pip install playwright; it drives the system Chromium, "
                    "no `playwright install` needed): browser tests skipped")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def chromium_page(chromium_browser):
    """A fresh page of a headless Chromium (the system's, driven by Playwright), offline.

    Every request that leaves the machine is blocked and recorded in ``page.external``; console
    errors and uncaught page errors are collected in ``page.errors``. Skips, with the reason,
    where Chromium or Playwright is missing.
    """
    context = chromium_browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.external, page.errors = [], []

    def route(r):
        url = r.request.url
        if url.startswith(("file:", "data:", "about:")):
            r.continue_()
        else:
            page.external.append(url)
            r.abort()

    page.route("**/*", route)
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    try:
        yield page
    finally:
        context.close()
