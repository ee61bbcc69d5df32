"""What the reader's page needs beyond the theme: lines that fit, clean code excerpts, author–year labels.

* ``book_page.css`` (in ``static/``): code and output blocks in a size that fits 88 characters in
  the text column of a desktop screen, and on a narrow screen long lines wrap instead of running
  out of their block; display equations too wide for a phone scroll inside their own box.
* The directive ``function-source``: the source of one function of the package, shown without its
  docstring (whose reST ``:math:`` roles read badly as code); the prose around it states the
  equation. The package's own line length is longer than the book's column: its lines stay whole
  and scroll inside the block (a wrapped line would restart at column 0, where Python reads
  indentation). ``wgan_teach.penalties.gradient_penalty`` names the function; the file is read,
  never imported, and the page is rebuilt when it changes.
* A pybtex style ``authoryear``: the bibliography labels entries as the text cites them,
  "Arjovsky et al., 2017", instead of pybtex's default "ACB17".
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import directives
from pybtex.plugin import register_plugin
from pybtex.richtext import Text
from pybtex.style.formatting.unsrt import Style as UnsrtStyle
from pybtex.style.labels import BaseLabelStyle
from sphinx.util.docutils import SphinxDirective

STATIC = Path(__file__).parent / "static"


# -- function-source ------------------------------------------------------------------------
def function_source(path: Path, name: str) -> tuple[str, int]:
    """The source of the top-level function ``name`` in ``path`` without its docstring, and its first line."""
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            start = min([node.lineno] + [d.lineno for d in node.decorator_list])
            keep = list(range(start, node.end_lineno + 1))
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                docstring = set(range(first.lineno, first.end_lineno + 1))
                keep = [n for n in keep if n not in docstring]
            return textwrap.dedent("\n".join(lines[n - 1] for n in keep)), start
    raise ValueError(f"no function {name!r} in {path}")


class FunctionSource(SphinxDirective):
    """``function-source`` *package.module.function*: that function's code, without its docstring."""

    required_arguments = 1
    option_spec = {"caption": directives.unchanged}

    def run(self):
        *module, name = self.arguments[0].split(".")
        path = Path(self.env.srcdir, *module).with_suffix(".py")
        try:
            code, line = function_source(path, name)
        except (OSError, SyntaxError, ValueError) as error:
            raise self.error(f"function-source: {error}") from error
        self.env.note_dependency(str(path))
        block = nodes.literal_block(code, code, language="python")
        block["highlight_args"] = {"linenostart": line}
        caption = self.options.get("caption", f"{'/'.join(module)}.py, {name}")
        container = nodes.container("", literal_block=True, classes=["literal-block-wrapper", "function-source"])
        parsed, _ = self.state.inline_text(caption, self.lineno)
        container += nodes.caption(caption, "", *parsed)
        container += block
        return [container]


# -- author-year bibliography labels --------------------------------------------------------
def _last_name(person) -> str:
    return Text.from_latex(" ".join(person.prelast_names + person.last_names)).render_as("text")


class AuthorYearLabels(BaseLabelStyle):
    """"Villani, 2008", "Arjovsky and Bottou, 2017", "Gulrajani et al., 2017"; "2017a", "2017b" where equal."""

    def format_labels(self, sorted_entries):
        labels = []
        for entry in sorted_entries:
            people = entry.persons.get("author") or entry.persons.get("editor") or []
            if not people:
                names = entry.fields.get("key", entry.key)
            elif len(people) == 1:
                names = _last_name(people[0])
            elif len(people) == 2:
                names = f"{_last_name(people[0])} and {_last_name(people[1])}"
            else:
                names = f"{_last_name(people[0])} et al."
            labels.append(f"{names}, {entry.fields.get('year', 'n.d.')}")
        counts = {label: labels.count(label) for label in labels}
        seen: dict[str, int] = {}
        for label in labels:
            if counts[label] > 1:
                seen[label] = seen.get(label, 0) + 1
                yield label + "abcdefghijklmnopqrstuvwxyz"[seen[label] - 1]
            else:
                yield label


class AuthorYearStyle(UnsrtStyle):
    default_label_style = AuthorYearLabels
    default_sorting_style = "author_year_title"


# -- wiring ---------------------------------------------------------------------------------
def _add_static(app, config):
    config.html_static_path.append(str(STATIC))


def setup(app):
    register_plugin("pybtex.style.formatting", "authoryear", AuthorYearStyle)
    app.connect("config-inited", _add_static)
    app.add_css_file("book_page.css")
    app.add_directive("function-source", FunctionSource)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
