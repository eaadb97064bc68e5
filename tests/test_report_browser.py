"""The report in real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright).

Playwright never downloads a browser here: it launches the system's executable. Without
/usr/bin/chromium these tests are skipped, except in CI (the CI environment variable set), where
the browser is installed and they must run.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import reports

sys.path.insert(0, str(Path(__file__).parent))
import _synthetic as synthetic

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
EVIL = "<script>alert(1)</script>"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists() and not os.environ.get("CI"),
        reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)",
    ),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield chromium
        chromium.close()


def _open(browser, path: Path) -> tuple[object, dict[str, list[str]]]:  # type: ignore[no-untyped-def]
    """Open `path` offline; record console errors, page errors, dialogs and requests."""
    seen: dict[str, list[str]] = {"errors": [], "dialogs": [], "requests": []}
    context = browser.new_context(viewport={"width": 1366, "height": 768}, offline=True)
    page = context.new_page()
    page.on(
        "console",
        lambda msg: seen["errors"].append(msg.text) if msg.type == "error" else None,
    )
    page.on("pageerror", lambda exc: seen["errors"].append(str(exc)))

    def on_dialog(dialog) -> None:  # type: ignore[no-untyped-def]
        seen["dialogs"].append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.on(
        "request",
        lambda req: (
            None if req.url.startswith(("file:", "data:")) else seen["requests"].append(req.url)
        ),
    )
    page.goto(path.as_uri(), wait_until="load")
    return page, seen


@pytest.mark.slow
def test_report_renders_in_chromium(browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    problems = [p for p in synthetic.DEFAULT_PROBLEMS if p.name in {"sphere", "rosenbrock"}]
    problems += [p for p in synthetic.DEFAULT_PROBLEMS if p.ml]
    run = synthetic.write_study(tmp_path / "run", name="browser", problems=problems, seeds=3)
    out = reports.write([run], tmp_path / "report.html")
    page, seen = _open(browser, out)
    try:
        images = page.eval_on_selector_all(
            "img", "els => els.map(e => [e.complete, e.naturalWidth, e.naturalHeight])"
        )
        assert len(images) >= 7
        assert all(done and w > 0 and h > 0 for done, w, h in images), images
        assert seen["errors"] == []
        assert seen["requests"] == []
        assert page.title().startswith("optbench report")
        assert page.locator("table.summary tr").count() > 1
        # fits a laptop screen: no horizontal scroll of the page itself
        assert page.evaluate("document.documentElement.scrollWidth") <= 1366
        shot = tmp_path / "report.screenshot.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
    finally:
        page.context.close()


def test_malicious_names_do_not_run(browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    evil = synthetic.SyntheticProblem(EVIL, EVIL, 2, fn=synthetic.DEFAULT_PROBLEMS[1].fn)
    run = synthetic.write_study(
        tmp_path / "evil",
        name=EVIL,
        problems=[evil],
        optimizers=[(EVIL, EVIL, 0.9, 0.1), ("sgd", "sgd", 0.5, 0.1)],
        seeds=2,
        label=EVIL,
    )
    out = reports.write([run], tmp_path / "evil.html")
    page, seen = _open(browser, out)
    try:
        assert seen["dialogs"] == []
        assert page.evaluate("document.scripts.length") == 0
        assert page.evaluate("typeof window.alert") == "function"  # nothing replaced it
        text = page.inner_text("body")
        assert EVIL in text  # shown as text
        assert page.locator("table.summary th.prob").first.inner_text() == EVIL
        assert seen["errors"] == []
        page.screenshot(path=str(tmp_path / "evil.screenshot.png"))
    finally:
        page.context.close()


def test_the_dialog_check_would_catch_a_script(browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Control: the same check sees an unescaped script run."""
    bad = tmp_path / "unescaped.html"
    bad.write_text(f"<!DOCTYPE html><html><body>{EVIL}</body></html>")
    page, seen = _open(browser, bad)
    try:
        page.wait_for_timeout(100)
        assert seen["dialogs"] == ["1"]
    finally:
        page.context.close()
