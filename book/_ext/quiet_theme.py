"""Two fixes so that a page of the book logs no error in the browser console.

* sphinx-thebe registers its inline configuration script once per ``env-before-read-docs``
  event, which Jupyter Book emits twice, so every page declared ``const THEBE_JS_URL`` twice
  (a SyntaxError in the console). Keep each script once per page.
* pydata-sphinx-theme logs "Got invalid theme mode" when the template variable ``default_mode``
  (``html_context``) is empty, as it is under sphinx-book-theme unless set: default to
  following the reader's system setting.

It also loads ``book_page`` (the page's own styles, the ``function-source`` directive and the
bibliography's author–year labels), which lives beside it.
"""


def _set_default_mode(app, config):
    config.html_context.setdefault("default_mode", "auto")


def _deduplicate_scripts(app, pagename, templatename, context, doctree):
    seen, unique = set(), []
    for script in context.get("script_files", []):
        # the copies differ only in filename None vs "" (both mean an inline script)
        key = (str(getattr(script, "filename", script) or ""), tuple(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app):
    app.setup_extension("book_page")  # the page's own needs: see book_page.py
    app.connect("config-inited", _set_default_mode)
    app.connect("html-page-context", _deduplicate_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
