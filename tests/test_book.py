"""The built book: zero warnings, every page present, offline assets, stored chapter outputs."""

import re
from html.parser import HTMLParser

import nbformat
import yaml

from conftest import ROOT

MAX_PAGE_BYTES = 5 * 1024 * 1024


def toc_files():
    """Every page of the table of contents: the root, the chapters and their sections."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())

    def files(entries):
        return [f for entry in entries for f in [entry["file"], *files(entry.get("sections", []))]]

    return [toc["root"], *files(chapter for part in toc["parts"] for chapter in part["chapters"])]


def chapter_notebooks():
    """Every notebook of the book: the chapters, their sections and the appendices."""
    return sorted((ROOT / "book").glob("*.ipynb"))


def test_build_has_no_warnings(book_build):
    _, log = book_build
    assert "WARNING" not in log and "ERROR" not in log, log[-3000:]


def test_every_toc_page_is_built_and_small(book_build):
    html, _ = book_build
    for name in toc_files():
        page = html / f"{name}.html"
        assert page.is_file(), f"{page} missing"
        assert page.stat().st_size < MAX_PAGE_BYTES, f"{page} is {page.stat().st_size} bytes"


class _ResourceParser(HTMLParser):
    """Collects the URLs a page *loads* (scripts, images, frames, stylesheets, icons, fonts)."""

    LOADING_RELS = {"stylesheet", "preload", "modulepreload", "icon", "shortcut icon"}

    def __init__(self):
        super().__init__()
        self.urls = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("script", "img", "iframe", "source") and attrs.get("src"):
            self.urls.append(attrs["src"])
        if tag == "link" and attrs.get("rel", "") in self.LOADING_RELS and attrs.get("href"):
            self.urls.append(attrs["href"])


def test_pages_load_nothing_from_the_network(book_build):
    """Scripts, styles, fonts and images come from the build itself (links to other sites are fine)."""
    html, _ = book_build
    for page in html.rglob("*.html"):
        parser = _ResourceParser()
        parser.feed(page.read_text(encoding="utf-8"))
        remote = [u for u in parser.urls if re.match(r"^(https?:)?//", u)]
        assert not remote, f"{page.relative_to(html)} loads {remote}"


def test_tables_that_cells_display_render_as_tables(book_build):
    """Chapter 6's results tables and Chapter 7's layer tables are Markdown shown by a cell: they must
    reach the page as <table>s, header and all, with the math in them typeset (not as a paragraph of
    pipes)."""
    html, _ = book_build
    page = (html / "book" / "06_training_2d.html").read_text(encoding="utf-8")
    tables = re.findall(r"<table.*?</table>", page, flags=re.S)
    results = [t for t in tables if "floor" in t and "wgan-clip" in t]
    assert len(results) == 3, "the results tables (one per data set) are not rendered as tables"
    assert all(t.count("<tr") >= 4 and "math" in t for t in results)  # a header and the three methods, at least
    assert "<p>| data | method |" not in page  # the pre-fix rendering: one paragraph of pipes
    page = (html / "book" / "07_cifar10.html").read_text(encoding="utf-8")
    layers = [t for t in re.findall(r"<table.*?</table>", page, flags=re.S) if "parameters" in t and "total" in t]
    assert len(layers) == 4 and all(t.count("<tr") >= 5 for t in layers)
    gpu = [t for t in re.findall(r"<table.*?</table>", page, flags=re.S) if "three forwards" in t or "WGAN-clip" in t]
    assert len(gpu) == 2 and all(t.count("<tr") >= 5 for t in gpu)  # the H100 timings and the FIDs by the clock


def test_mathjax_is_served_from_the_build(book_build):
    html, _ = book_build
    page = (html / "book" / "01_wasserstein.html").read_text(encoding="utf-8")
    match = re.search(r'<script[^>]*src="([^"]*mathjax[^"]*)"', page)
    assert match, "no MathJax script tag"
    local = (html / "book" / match.group(1).split("?")[0]).resolve()
    assert local.is_file() and local.stat().st_size > 100_000
    fonts = list((html / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2").glob("*.woff"))
    assert len(fonts) > 10


def test_chapters_are_committed_executed():
    """The book shows stored outputs, so every chapter must be stored fully executed, in order."""
    notebooks = chapter_notebooks()
    assert notebooks, "no chapters found"
    for path in notebooks:
        notebook = nbformat.read(path, as_version=4)
        code = [cell for cell in notebook.cells if cell.cell_type == "code" and cell.source.strip()]
        counts = [cell.execution_count for cell in code]
        assert None not in counts, f"{path.name} has unexecuted cells"
        assert counts == list(range(1, len(code) + 1)), f"{path.name} was not executed top to bottom"
        errors = [o for cell in code for o in cell.outputs if o.output_type == "error"]
        assert not errors, f"{path.name} stores an error output"


def test_chapters_check_their_printed_numbers():
    """Each chapter marks the cells that print its key numbers for nbval to compare."""
    for path in chapter_notebooks():
        notebook = nbformat.read(path, as_version=4)
        checked = [c for c in notebook.cells if c.cell_type == "code" and "# NBVAL_CHECK_OUTPUT" in c.source]
        assert len(checked) >= 3, f"{path.name} checks only {len(checked)} cells"
        for cell in checked:
            assert any(o.output_type == "stream" for o in cell.outputs), f"checked cell prints nothing:\n{cell.source}"


def test_toc_lists_every_chapter():
    listed = set(toc_files())
    for path in chapter_notebooks():
        assert f"book/{path.stem}" in listed, f"{path.name} is not in _toc.yml"


ANSWER = re.compile(r"^(:{3,}|`{3,})\{admonition\}\s*(Answer|Solution)\b.*\n((?::\w+:.*\n)*)", re.M)


def test_answers_are_folded():
    """Every answer to an exercise or question is a dropdown: hidden until the reader opens it."""
    found = 0
    for path in chapter_notebooks():
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "markdown":
                for match in ANSWER.finditer(cell.source + "\n"):
                    found += 1
                    assert re.search(r"^:class:.*\bdropdown\b", match.group(3), re.M), (
                        f"{path.name}: an answer that is not a dropdown:\n{match.group(0)}")
    assert found >= 10


def test_chapter5_answer_code_is_the_code_that_is_checked():
    """Exercise 5.3's answer, shown in its dropdown, is the code a hidden cell runs through check_penalty."""
    cells = nbformat.read(ROOT / "book" / "05_gradient_penalty.ipynb", as_version=4).cells
    shown = [re.search(r"```python\n(.*?)\n```", c.source, re.S) for c in cells
             if c.cell_type == "markdown" and "def my_gradient_penalty" in c.source]
    checked = [re.search(r'answer = """\\\n(.*?)\n"""', c.source, re.S) for c in cells
               if c.cell_type == "code" and "check_penalty(namespace" in c.source]
    assert len(shown) == 1 and len(checked) == 1 and shown[0] and checked[0]
    assert shown[0].group(1) == checked[0].group(1)
    hidden = next(c for c in cells if c.cell_type == "code" and "check_penalty(namespace" in c.source)
    assert "remove-cell" in hidden.metadata.get("tags", []) and "# NBVAL_CHECK_OUTPUT" in hidden.source
