"""Browser tests: pytest-playwright driving Debian's Chromium against pytest-django's
live_server. Playwright never downloads a browser here (scripts/services.sh installs
/usr/bin/chromium). Screenshots of every step go to artifacts/<test name>/ (git-ignored)."""

import json
import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
AXE = ROOT / "var" / "vendor" / "static" / "axe-core" / "axe.min.js"
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
        ],
    }


# pytest-playwright's playwright/browser fixtures live for the whole session. These live for
# this package only, because Playwright's sync API keeps an event loop running in the main
# thread, and while it runs Django refuses ORM calls there (SynchronousOnlyOperation) unless
# DJANGO_ALLOW_ASYNC_UNSAFE is set. So it is set exactly while Playwright runs: in the
# browser tests, never for the rest of the suite.


@pytest.fixture(scope="package")
def playwright():
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as pw:
            yield pw
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="package")
def browser_context_args():
    # pytest-playwright's version is session-scoped and reads `playwright`; ours needs nothing.
    return {"viewport": {"width": 1280, "height": 900}}


@pytest.fixture(scope="package")
def browser_type(playwright, browser_name):
    return getattr(playwright, browser_name)


@pytest.fixture(scope="package")
def launch_browser(browser_type_launch_args, browser_type):
    def launch(**kwargs):
        return browser_type.launch(**{**browser_type_launch_args, **kwargs})

    return launch


@pytest.fixture(scope="package")
def browser(launch_browser):
    browser = launch_browser()
    yield browser
    browser.close()


class Screens:
    """Numbered screenshots of one test's steps."""

    def __init__(self, page: Page, name: str) -> None:
        self.page, self.count = page, 0
        self.folder = ARTIFACTS / re.sub(r"[^\w.-]+", "_", name)
        self.folder.mkdir(parents=True, exist_ok=True)

    def __call__(self, step: str) -> None:
        self.count += 1
        self.page.screenshot(path=self.folder / f"{self.count:02d}-{step}.png", full_page=True)


@pytest.fixture
def shot(page, request):
    return Screens(page, request.node.name)


def serious_accessibility_violations(page: Page) -> list[str]:
    """Run axe-core (vendored from npm) in the page; list serious and critical violations."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {json.dumps(_targets(v))}"
        for v in result["violations"]
        if v["impact"] in {"serious", "critical"}
    ]


def _targets(violation: dict) -> list:
    return [node["target"] for node in violation["nodes"]][:3]
