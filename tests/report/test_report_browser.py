"""report.html in a real browser (headless Chromium): it renders with JavaScript off and no
network, the score table has one row per method, every picture loads."""
import pytest

from classicseg.report import run_compare
from tests.test_batch import cdnet_seq


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("browser")
    root = tmp / "cd"
    cdnet_seq(root / "baseline" / "alpha", seed=0)
    cdnet_seq(root / "jitter" / "gamma", seed=2)
    methods = ["mog2", "knn", "framediff", "surveillance-fast"]
    run_compare(methods, root, tmp / "cmp", workers=0)
    return tmp / "cmp", methods


def test_report_renders_offline_with_one_row_per_method(chromium_page, compared):
    out, methods = compared
    page = chromium_page
    page.goto((out / "report.html").as_uri())
    assert page.title() == f"classicseg compare: {len(methods)} methods on 2 sequences"
    assert page.locator("h1").inner_text() == f"{len(methods)} methods on 2 sequences"
    rows = page.locator("#cdnet-overall tbody tr")
    assert rows.count() == len(methods)
    assert [rows.nth(i).get_attribute("data-method") for i in range(rows.count())] == methods
    assert page.locator("#cdnet-overall td.best").count() >= 1
    assert page.locator("#cdnet-sequences tbody tr").count() == len(methods)
    assert page.locator("#speed tbody tr").count() == len(methods)
    # pictures (inline PNG/JPEG) all decode, and the SVG charts lay out
    imgs = page.locator("img")
    n = imgs.count()
    assert n == 2 * (2 + len(methods))  # two sequences: input, ground truth, one mask per method
    for i in range(n):
        box = imgs.nth(i).bounding_box()
        assert box is not None and box["width"] > 0 and box["height"] > 0
    svgs = page.locator("svg")
    assert svgs.count() >= 3  # a bar chart and a per-frame chart per sequence
    assert all(svgs.nth(i).bounding_box()["height"] > 50 for i in range(svgs.count()))
    assert page.external == [] and page.errors == []


def test_report_images_decode(chromium_page, compared):
    """With scripts on (only to ask the browser), every <img> has decoded pixels."""
    out, _ = compared
    ctx = chromium_page.context.browser.new_context()
    page = ctx.new_page()
    try:
        page.goto((out / "report.html").as_uri())
        decoded = page.eval_on_selector_all("img", "els => els.map(e => e.complete && e.naturalWidth > 0)")
        assert decoded and all(decoded)
        assert page.evaluate("document.scripts.length") == 0
    finally:
        ctx.close()
