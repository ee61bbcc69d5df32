"""Chapter 1 in a real browser, offline: equations typeset, the kernel-free slider works, nothing fails.

Drives Debian's Chromium (/usr/bin/chromium) through Playwright; the page is served from the
test's own build on 127.0.0.1, and every request to any other host is aborted and counted.
"""

import functools
import http.server
import shutil
import threading
from urllib.parse import urlparse

import pytest
from playwright.sync_api import sync_playwright

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def served_book(book_build):
    html, _ = book_build
    handler = functools.partial(QuietHandler, directory=str(html))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield browser
        browser.close()


class OfflinePage:
    """A page that may only talk to the local server, recording errors and failed requests."""

    def __init__(self, browser, base_url):
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.console_errors, self.failed, self.blocked = [], [], []
        self.page.on("console", lambda m: m.type == "error" and self.console_errors.append(m.text))
        self.page.on("pageerror", lambda e: self.console_errors.append(str(e)))
        self.page.on("requestfailed", lambda r: self.failed.append(f"{r.url} {r.failure}"))
        self.page.on("response", lambda r: r.status >= 400 and self.failed.append(f"{r.url} {r.status}"))
        local = urlparse(base_url).netloc

        def only_local(route):
            if urlparse(route.request.url).netloc == local or route.request.url.startswith("data:"):
                route.continue_()
            else:
                self.blocked.append(route.request.url)
                route.abort()

        self.page.route("**/*", only_local)

    def assert_clean(self):
        assert not self.blocked, f"requests to the network: {self.blocked}"
        assert not self.failed, f"failed requests: {self.failed}"
        assert not self.console_errors, f"console errors: {self.console_errors}"


def test_chapter1_offline(browser, served_book, tmp_path):
    view = OfflinePage(browser, served_book)
    page = view.page
    page.goto(f"{served_book}/book/01_wasserstein.html", wait_until="networkidle")

    # MathJax typeset every equation: output elements present, no TeX delimiters left in the text.
    page.wait_for_function("window.MathJax && MathJax.startup && MathJax.startup.promise")
    page.evaluate("MathJax.startup.promise")
    assert page.locator("mjx-container").count() >= 20
    text = page.locator("article").inner_text()
    for raw in ("$$", "\\(", "\\[", "\\int", "\\lvert"):
        assert raw not in text, f"untypeset TeX {raw!r} on the page"

    # The kernel-free scrubber: moving a slider changes the frame and the printed W1.
    scrubber = page.locator(".wgan-scrubber").first
    scrubber.scroll_into_view_if_needed()
    image, readout = scrubber.locator("img.wgan-scrubber-frame"), scrubber.locator(".wgan-scrubber-readout")
    before_src, before_text = image.get_attribute("src"), readout.inner_text()
    assert before_text.startswith("W1 = 1.0000"), before_text
    page.screenshot(path=str(tmp_path / "chapter1-before.png"))

    shift = scrubber.locator("input[type=range]").first
    shift.focus()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    after_src, after_text = image.get_attribute("src"), readout.inner_text()
    assert after_src != before_src, "the frame did not change"
    assert after_text != before_text, "the printed W1 did not change"
    # shift +1.0 -> +2.5 with spread 2 and split 0.5 is a pure translation: W1 = |shift|.
    assert after_text.startswith("W1 = 2.5000"), after_text
    assert scrubber.locator("output").first.inner_text() == "+2.5"
    page.screenshot(path=str(tmp_path / "chapter1-after.png"))

    view.assert_clean()
    page.close()


def test_every_page_loads_cleanly_offline(browser, served_book, book_build):
    html, _ = book_build
    for path in sorted(html.glob("book/*.html")):
        view = OfflinePage(browser, served_book)
        view.page.goto(f"{served_book}/book/{path.name}", wait_until="networkidle")
        view.assert_clean()
        view.page.close()


@pytest.mark.parametrize(
    "chapter", ["02_js_vs_w1", "03_duality_critic", "04_weight_clipping", "05_gradient_penalty", "06_training_2d"]
)
def test_every_scrubber_responds(browser, served_book, chapter, tmp_path):
    """Each slider of each scrubber: one step changes the frame, the readout and the shown value.

    A slider with a single precomputed value (live-only in Jupyter) is shown disabled.
    """
    view = OfflinePage(browser, served_book)
    page = view.page
    page.goto(f"{served_book}/book/{chapter}.html", wait_until="networkidle")
    scrubbers = page.locator(".wgan-scrubber")
    assert scrubbers.count() >= 1
    for s in range(scrubbers.count()):
        scrubber = scrubbers.nth(s)
        scrubber.scroll_into_view_if_needed()
        image, readout = scrubber.locator("img.wgan-scrubber-frame"), scrubber.locator(".wgan-scrubber-readout")
        sliders, shown = scrubber.locator("input[type=range]"), scrubber.locator("output")
        for k in range(sliders.count()):
            before = image.get_attribute("src"), readout.inner_text(), shown.nth(k).inner_text()
            slider = sliders.nth(k)
            if slider.is_disabled():
                assert slider.get_attribute("max") == "0"
                continue
            slider.focus()
            at_end = slider.input_value() == slider.get_attribute("max")
            page.keyboard.press("ArrowLeft" if at_end else "ArrowRight")
            after = image.get_attribute("src"), readout.inner_text(), shown.nth(k).inner_text()
            assert all(a != b for a, b in zip(after, before)), f"{chapter} scrubber {s} slider {k} did not respond"
        page.screenshot(path=str(tmp_path / f"{chapter}-scrubber{s}.png"))
    view.assert_clean()
    page.close()
