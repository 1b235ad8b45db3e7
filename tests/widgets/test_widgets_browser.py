"""Chapter 07 in a real JupyterLab, driven by headless Chromium: from the course index to
the chapter, its plots rendered, and the explorer reacts.

The server is started with the exact command behind ``make lab``
(:func:`kerascourse.lab.lab_command` and :func:`kerascourse.lab.lab_env`) on 127.0.0.1, in
FAST mode, rooted at a temporary copy of the course folder so that JupyterLab's autosave can
never write outputs into the repository's notebook. Playwright drives Debian's
``/usr/bin/chromium``: open ``index.ipynb``, click the link to
``chapters/07_looking_inside.ipynb``, Run > Run All Cells, see its figures, pick
another layer in the activation explorer's Dropdown and check that the picture changed.

Artifacts: screenshots of the explorer before and after, and of the page, are written to
``benchmarks/results/screenshots/`` (overwritten on each run).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
CHAPTER = "chapters/07_looking_inside.ipynb"
SHOTS = ROOT / "benchmarks" / "results" / "screenshots"


@pytest.fixture
def course_copy(tmp_path: Path) -> Path:
    """A throwaway course root with chapter 07 (and an empty labs/ so it is recognised)."""
    root = tmp_path / "course"
    (root / "chapters").mkdir(parents=True)
    (root / "labs").mkdir()
    shutil.copy2(ROOT / CHAPTER, root / CHAPTER)
    shutil.copy2(ROOT / "index.ipynb", root / "index.ipynb")  # where a learner starts
    return root


@pytest.fixture
def server(course_copy: Path, lab_server):
    """JupyterLab started like `make lab` at the course copy."""
    with lab_server(course_copy) as started:
        yield started


def _pixels(png: bytes) -> np.ndarray:
    import io

    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def _started(page) -> int:
    """How many code cells are running, queued ([*]) or done ([n])."""
    prompts = page.locator(".jp-CodeCell .jp-InputPrompt").all_inner_texts()
    return sum(p.strip() not in ("[ ]:", "") for p in prompts)


def _run_all_cells(page) -> None:
    """Run > Run All Cells, retried if the click did not start the cells (a menu race)."""
    for _attempt in range(3):
        page.locator("li.lm-MenuBar-item", has_text="Run").first.click()
        item = page.locator("li.lm-Menu-item[data-command='runmenu:run-all']")
        item.wait_for(state="visible")
        item.click()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if _started(page) >= 2:
                return
            time.sleep(0.5)
        page.keyboard.press("Escape")
    pytest.fail("Run > Run All Cells did not start the notebook's cells")


def _wait_for_all_cells(page, n_code: int, timeout_s: float) -> None:
    """Until every code cell shows an execution count ([n]:), fail on an error output."""
    deadline = time.monotonic() + timeout_s
    prompts: list[str] = []
    while time.monotonic() < deadline:
        prompts = page.locator(".jp-CodeCell .jp-InputPrompt").all_inner_texts()
        done = [p for p in prompts if p.strip().strip("[]:").isdigit()]
        if page.locator(
            ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
        ).count():
            errors = page.locator(
                ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
            )
            pytest.fail(f"a cell wrote to stderr or raised: {errors.first.inner_text()[:1500]}")
        if len(prompts) == n_code and len(done) == n_code:
            return
        time.sleep(1)
    page.screenshot(path=str(SHOTS / "07_jupyterlab_timeout.png"))
    pytest.fail(f"cells did not all run in {timeout_s:.0f} s (see {SHOTS}); prompts: {prompts}")


@pytest.mark.slow
def test_chapter_07_explorer_reacts_in_jupyterlab(server, course_copy, browser):
    """In JupyterLab + Chromium, does choosing another layer change the explorer's picture?"""
    import nbformat

    n_code = sum(
        c.cell_type == "code" for c in nbformat.read(course_copy / CHAPTER, as_version=4).cells
    )
    base, token = server
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page()
    # A learner starts at the course index and clicks the chapter's link.
    page.goto(f"{base}/lab/tree/index.ipynb?token={token}", wait_until="domcontentloaded")
    link = page.locator(".jp-RenderedMarkdown a", has_text="07_looking_inside").first
    link.wait_for(state="visible", timeout=90_000)
    link.click()
    page.wait_for_selector(
        ".lm-TabBar-tab.lm-mod-current:has-text('07_looking_inside')", timeout=90_000
    )
    # Close the index, so that only the chapter's cells are in the page.
    page.locator(".lm-TabBar-tab:has-text('index.ipynb') .lm-TabBar-tabCloseIcon").click()
    page.wait_for_timeout(1000)
    discard = page.locator(".jp-Dialog button", has_text="Discard")
    if discard.count():  # JupyterLab may mark it changed (metadata); keep the file
        discard.first.click()
    page.wait_for_selector(".lm-TabBar-tab:has-text('index.ipynb')", state="detached")
    page.wait_for_selector(".jp-NotebookPanel .jp-Notebook .jp-Cell", timeout=90_000)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=90_000)
    _run_all_cells(page)
    _wait_for_all_cells(page, n_code, timeout_s=120)

    plots = page.locator(".jp-OutputArea-output[data-mime-type='image/png'] img")
    assert plots.count() >= 2, "no rendered matplotlib figure in the chapter's outputs"
    explorer = page.locator(".kc-activation-explorer").first
    explorer.scroll_into_view_if_needed()
    image = explorer.locator("img").first
    image.wait_for(state="visible", timeout=30_000)
    select = explorer.locator("select").first
    assert select.input_value() == "conv1"
    src_before = image.get_attribute("src")
    before = image.screenshot(path=str(SHOTS / "07_activation_explorer_conv1.png"))

    select.select_option("conv2")
    page.wait_for_function(
        "([el, old]) => el.getAttribute('src') !== old",
        arg=[image.element_handle(), src_before], timeout=30_000,
    )  # fmt: skip
    page.wait_for_timeout(300)  # let the new picture paint
    after = image.screenshot(path=str(SHOTS / "07_activation_explorer_conv2.png"))
    page.screenshot(path=str(SHOTS / "07_jupyterlab_page.png"))
    a, b = _pixels(before), _pixels(after)
    assert a.std() > 5, "the explorer showed a blank picture before the change"
    assert a.shape != b.shape or np.abs(a.astype(int) - b).mean() > 1, "picture did not change"
