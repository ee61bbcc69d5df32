"""The built book in a real browser, offline: equations typeset, the kernel-free sliders work,
every page of the table of contents fits a phone and a desktop screen, and nothing fails.

Drives Debian's Chromium (/usr/bin/chromium) through Playwright; the page is served from the
test's own build on 127.0.0.1, and every request to any other host is aborted and counted.
"""

import functools
import http.server
import json
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]



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


# -- every page of the table of contents, at a phone's and a desktop's width ---------------------


def toc_pages():
    """Every page of the table of contents: the root, the chapters and their sections."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())

    def pages(entries):
        return [f for entry in entries for f in [entry["file"], *pages(entry.get("sections", []))]]

    return [toc["root"], *pages(c for part in toc.get("parts", [toc]) for c in part.get("chapters", []))]


WIDTHS = (400, 1280)

# Runs in the page once MathJax is done; returns {kind of problem: [descriptions]}. Every folded
# part of the page (hidden code, answers of exercises) is unfolded first, so it is measured too.
PAGE_PROBLEMS = r"""
() => {
  document.querySelectorAll("details").forEach(d => d.open = true);
  document.querySelectorAll(".toggle-hidden").forEach(e => e.classList.remove("toggle-hidden"));
  const article = document.querySelector("article.bd-article");
  const column = article.getBoundingClientRect();
  const problems = {overflow: [], "progress bar": [], math: [], image: []};
  const name = el => {
    const text = (el.innerText || el.textContent || "").trim().replace(/\s+/g, " ").slice(0, 60);
    return `<${el.tagName.toLowerCase()}${el.className && typeof el.className === "string" ?
      " class=" + el.className.trim().split(/\s+/)[0] : ""}> "${text}"`;
  };

  // 1. Nothing wider than the column: no box past its edges, no block whose content scrolls.
  const reported = [];
  for (const el of article.querySelectorAll("*")) {
    if (el.closest("mjx-assistive-mml")) continue;  // MathML for screen readers, clipped to 1 px
    if (reported.some(r => r.contains(el))) continue;
    if (el.tagName !== "PRE" && el.closest("div.function-source pre")) continue;  // scrolls in its block
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) continue;
    const style = getComputedStyle(el);
    // Functions of the package (function-source) keep its longer lines and scroll on purpose.
    const scrolls = !style.display.startsWith("inline") && ["auto", "scroll", "hidden"].includes(style.overflowX)
      && el.scrollWidth > el.clientWidth + 1 && !el.closest("div.function-source");
    const spills = box.right > column.right + 1 || box.left < column.left - 1;
    if (scrolls || spills) {
      reported.push(el);
      problems.overflow.push(scrolls ? `${name(el)} is ${el.scrollWidth} px wide inside ${el.clientWidth} px`
                                     : `${name(el)} reaches ${Math.round(box.right - column.right)} px past the column`);
    }
  }

  // 2. No progress bar stopped short of its total (a stored tqdm line, or a <progress> element).
  const text = article.innerText;
  for (const m of text.matchAll(/(\d{1,3})%\|[^|\n]*\|\s*(\d+)\/(\d+)/g)) {
    if (m[2] !== m[3]) problems["progress bar"].push(m[0]);
  }
  for (const bar of article.querySelectorAll("progress")) {
    if (Number(bar.value) < Number(bar.max)) problems["progress bar"].push(`<progress value=${bar.value} max=${bar.max}>`);
  }

  // 3. All math typeset: no MathJax error, no TeX left in the text, no reST :math: role on show.
  for (const err of article.querySelectorAll("mjx-merror, .MathJax_Error")) problems.math.push(`MathJax error: ${name(err)}`);
  const walker = document.createTreeWalker(article, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const value = node.nodeValue;
    if (value.includes(":math:`")) problems.math.push(`a raw :math: role: "${value.trim().slice(0, 60)}"`);
    if (node.parentElement.closest("pre, code, script, style, mjx-container, .wgan-scrubber")) continue;
    const raw = value.match(/\$\$|\$[^$\s][^$]*\$|\\\(|\\\[|\\begin\{|\\[a-zA-Z]{2,}/);
    if (raw) problems.math.push(`untypeset TeX "${raw[0].slice(0, 40)}" in "${value.trim().slice(0, 60)}"`);
  }

  // 4. Figures: a real alt text, drawn at (nearly) the size they were made for, and, for the
  //    figures of cells, at twice the pixels of that size so that they are sharp on dense screens.
  for (const img of article.querySelectorAll("img")) {
    if (img.clientWidth === 0) continue;
    const src = img.getAttribute("src") || "", alt = (img.getAttribute("alt") || "").trim();
    const file = src.split("/").pop();
    if (!alt || alt.includes(file) || /\.(png|jpe?g|svg|gif)$/i.test(alt)) problems.image.push(`no alt text: ${file.slice(0, 40)}`);
    const designed = img.style.width ? parseFloat(img.style.width)
      : img.hasAttribute("width") ? parseFloat(img.getAttribute("width")) : img.naturalWidth;
    const squash = (img.clientWidth / img.clientHeight) / (img.naturalWidth / img.naturalHeight);
    if (Math.abs(squash - 1) > 0.03) problems.image.push(`${file.slice(0, 40)} is drawn out of shape (${squash.toFixed(2)})`);
    if (window.innerWidth >= 1280 && img.clientWidth < 0.9 * designed) {
      problems.image.push(`${file.slice(0, 40)} (alt "${alt.slice(0, 40)}") is drawn at ${img.clientWidth} px, ` +
                          `made for ${Math.round(designed)} px: its text shrinks below the size it was set in`);
    }
    if (img.naturalWidth < 1.5 * img.clientWidth) {  // the scrubbers' frames too
      problems.image.push(`${file.slice(0, 40)} (alt "${alt.slice(0, 40)}") has ${img.naturalWidth} pixels for ` +
                          `${img.clientWidth} px: blurred on a high-density screen`);
    }
  }
  return problems;
}
"""


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("page", toc_pages())
def test_page_fits_and_shows_no_fault(browser, served_book, page, width):
    """Every toc page at a phone's and a desktop's width: nothing wider than the text column (no
    display equation, code or output line cut off or scrolling), no console error or failed
    request, no frozen progress bar, no untypeset math, and figures with alt text that are sharp
    and not shrunk."""
    view = OfflinePage(browser, served_book)
    page_ = view.page
    page_.set_viewport_size({"width": width, "height": 900})
    page_.goto(f"{served_book}/{page}.html", wait_until="networkidle")
    if page_.evaluate("!!window.MathJax"):
        page_.wait_for_function("window.MathJax && MathJax.startup && MathJax.startup.promise")
        page_.evaluate("MathJax.startup.promise")
    problems = page_.evaluate(PAGE_PROBLEMS)
    view.assert_clean()
    page_.close()
    found = {kind: items for kind, items in problems.items() if items}
    assert not found, f"{page} at {width} px:\n" + json.dumps(found, indent=1, ensure_ascii=False)


@pytest.mark.parametrize("width", WIDTHS)
def test_function_source_lines_stay_whole(browser, served_book, width):
    """The package's functions shown in Chapter 5 keep each line on one line (a wrapped line would
    restart at column 0, where Python reads indentation): long ones scroll inside their block."""
    view = OfflinePage(browser, served_book)
    page = view.page
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{served_book}/book/05_gradient_penalty.html", wait_until="networkidle")
    blocks = page.locator("div.function-source pre")
    assert blocks.count() >= 2
    for k in range(blocks.count()):
        lines, rows, scrolls = blocks.nth(k).evaluate(
            """pre => {
              const style = getComputedStyle(pre);
              const height = pre.clientHeight - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom);
              return [pre.innerText.replace(/\\n$/, "").split("\\n").length,
                      Math.round(height / parseFloat(style.lineHeight)),
                      pre.scrollWidth > pre.clientWidth];
            }"""
        )
        assert rows == lines, f"block {k} at {width} px: {lines} lines of code take {rows} rows"
        if width == 400:
            assert scrolls, f"block {k} at 400 px neither wraps nor scrolls?"
    view.assert_clean()
    page.close()
