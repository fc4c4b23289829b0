"""The browser side of the browser tests: Debian's Chromium driven by Playwright, in a process of
its own (``python -m tests.browser.scenarios NAME``), without eventlet: Playwright's greenlets
and eventlet's monkey-patching do not mix (its event handlers wait on the hub and the test hangs).

Each page visited is saved as a screenshot under ``tests/browser/screenshots/`` (git-ignored) and
checked by axe-core (from npm): no serious or critical violation. Every other site than the
platform is unreachable (no name resolves): the pages must work from the platform alone."""

from contextlib import contextmanager
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
HERE = Path(__file__).resolve().parent
SCREENSHOTS = HERE / "screenshots"
AXE = HERE.parent.parent / "services" / "web" / "node_modules" / "axe-core" / "axe.min.js"
PHONE = {"width": 390, "height": 844}
TABLET = {"width": 820, "height": 1180}


class Visitor:
    """One person's browser (a context of its own): its page, screenshots, axe-core."""

    def __init__(self, context, name):
        self.context = context
        self.name = name
        self.page = context.new_page()
        self.blocked = []  # requests to other sites: they fail (no name resolves)
        self.shots = 0
        self.page.on("requestfailed", self._failed)

    def _failed(self, request):
        if not request.url.startswith("http://127.0.0.1:"):
            self.blocked.append(request.url)

    def look(self, label, axe=True):
        """Save a screenshot of the page and check it with axe-core (serious, critical: none)."""
        self.shots += 1
        SCREENSHOTS.mkdir(exist_ok=True)
        path = SCREENSHOTS / f"{self.name}-{self.shots:02d}-{label}.png"
        self.page.screenshot(path=str(path), full_page=True)
        if axe:
            violations = run_axe(self.page)
            assert not violations, f"{label} ({self.page.url}): {violations}"
        return path


def run_axe(page):
    page.evaluate(AXE.read_text())  # evaluated by the browser's debugger: the page's CSP allows
    return page.evaluate(
        """async () => {
            const result = await axe.run(document, {resultTypes: ["violations"]});
            return result.violations
                .filter(v => v.impact === "serious" || v.impact === "critical")
                .map(v => ({id: v.id, impact: v.impact, help: v.help,
                            nodes: v.nodes.map(n => n.target.join(" ")).slice(0, 5)}));
        }"""
    )


@contextmanager
def chromium(camera=None):
    """A ``visitor(name, **context options)`` factory over one Chromium, closed afterwards;
    ``camera``: an MJPEG file its fake camera films (the permission granted)."""
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Chromium is missing: `make system-deps` installs it"
    assert AXE.exists(), "axe-core is missing: `make` runs npm ci in services/web"
    with sync_playwright() as playwright:
        args = list(CHROMIUM_ARGS)
        if camera:
            args += [
                "--use-fake-device-for-media-stream",
                "--use-fake-ui-for-media-stream",
                f"--use-file-for-fake-video-capture={camera}",
            ]
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=args)

        def visitor(name, **options):
            options.setdefault("viewport", PHONE)
            options.setdefault("locale", "fr-FR")
            context = browser.new_context(**options)
            context.set_default_timeout(15_000)
            return Visitor(context, name)

        try:
            yield visitor
        finally:
            browser.close()
