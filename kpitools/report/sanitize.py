"""The last line of defence for what a report run writes: pages that run nothing and
fetch nothing, and spreadsheets that evaluate no formula.

Every string from the data is escaped where it is shown (:mod:`kpitools.text.display`);
these functions do not rely on that. :func:`sanitize_html` passes a finished page
through an HTML parser and keeps only what kpitools itself writes: its own relative
links, inline PNG charts, no script, no event handler, no external resource.
:func:`neutralize_formulas` applies OWASP's rule for CSV injection to text cells.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import pandas as pd

__all__ = ["sanitize_html", "neutralize_formulas", "allowed_link", "allowed_source"]

# elements dropped with everything inside them
_DROP_WITH_CONTENT = {"script", "iframe", "frame", "frameset", "object", "embed", "applet", "noscript",
                      "template"}
# elements dropped, their content kept
_DROP = {"link", "base", "form", "input", "button", "textarea", "select", "option", "portal"}
_URL_ATTRIBUTES = {"href", "src", "action", "formaction", "poster", "background", "data", "cite",
                   "longdesc", "usemap", "codebase", "manifest", "ping"}
_RELATIVE = re.compile(r"^(?:#[\w.:%-]*|(?:\.\./|\./)?[\w.-]+(?:/[\w.-]+)*\.html(?:#[\w.:%-]*)?)$")
_IMAGE = re.compile(r"^data:image/(?:png|jpeg|gif);base64,[A-Za-z0-9+/=\s]*$")
_CSS_URL = re.compile(r"url\(\s*(['\"]?)(?!data:)[^)]*\)|@import[^;]*;?|expression\s*\(", re.IGNORECASE)


def allowed_link(value: str) -> bool:
    """A link kpitools writes itself: an anchor in the page or another report of the
    folder (``#mrr``, ``funnel.html#Trends``, ``../index.html``), no scheme, no host."""
    return bool(_RELATIVE.match(value.strip())) and ".." not in value.strip().split("/")[1:]


def allowed_source(value: str) -> bool:
    """An image embedded in the page itself (``data:image/png;base64,...``)."""
    return bool(_IMAGE.match(value.strip()))


class _Sanitizer(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.out: list[str] = []
        self.skipping: list[str] = []  # the open elements being dropped with their content
        self.removed = 0

    def _attributes(self, tag: str, attrs: list[tuple[str, str | None]]) -> tuple[list, bool]:
        kept, changed = [], False
        for name, value in attrs:
            key = name.lower()
            text = value or ""
            bad = (key.startswith("on") or key in ("srcset", "formaction", "http-equiv")
                   or (key.endswith("href") and key != "href")
                   or (key == "href" and not allowed_link(text))
                   or (key == "src" and not allowed_source(text))
                   or (key in _URL_ATTRIBUTES - {"href", "src"})
                   or (key == "style" and _CSS_URL.search(text) is not None))
            if bad:
                changed = True
                self.removed += 1
            else:
                kept.append((name, value))
        return kept, changed

    def _start(self, tag: str, attrs: list, closed: bool) -> None:
        tag = tag.lower()
        if self.skipping:
            if tag in _DROP_WITH_CONTENT and not closed:
                self.skipping.append(tag)
            return
        if tag in _DROP_WITH_CONTENT:
            self.removed += 1
            if not closed:
                self.skipping.append(tag)
            return
        if tag in _DROP or (tag == "meta" and any(n.lower() == "http-equiv" for n, _ in attrs)):
            self.removed += 1
            return
        kept, changed = self._attributes(tag, attrs)
        if not changed:
            self.out.append(self.get_starttag_text())
            return
        parts = "".join(f' {n}="{html.escape(v, quote=True)}"' if v is not None else f" {n}" for n, v in kept)
        self.out.append(f"<{tag}{parts}{' /' if closed else ''}>")

    def handle_starttag(self, tag, attrs):
        self._start(tag, attrs, closed=False)

    def handle_startendtag(self, tag, attrs):
        self._start(tag, attrs, closed=True)

    def handle_endtag(self, tag):
        tag = tag.lower()
        if self.skipping:
            if tag == self.skipping[-1]:
                self.skipping.pop()
            return
        if tag in _DROP_WITH_CONTENT or tag in _DROP:
            return
        self.out.append(f"</{tag}>")

    def handle_data(self, data):
        if self.skipping:
            return
        if getattr(self, "cdata_elem", None) == "style":
            cleaned = _CSS_URL.sub(lambda m: "url()" if m.group(0).lower().startswith("url") else "", data)
            self.removed += cleaned != data
            data = cleaned
        self.out.append(data)

    def handle_entityref(self, name):
        if not self.skipping:
            self.out.append(f"&{name};")

    def handle_charref(self, name):
        if not self.skipping:
            self.out.append(f"&#{name};")

    def handle_decl(self, decl):
        if decl.lower().startswith("doctype"):
            self.out.append(f"<!{decl}>")

    def handle_comment(self, data):  # comments are dropped (no conditional comments)
        pass

    def handle_pi(self, data):
        pass

    def unknown_decl(self, data):
        pass


def sanitize_html(page: str) -> tuple[str, int]:
    """A page with nothing active or external left in it.

    Removed: ``<script>``, ``<iframe>``, ``<object>``, ``<embed>`` and the like with
    their content; ``<link>``, ``<base>``, forms and ``<meta http-equiv>``; every
    ``on*`` event attribute; every ``href`` but the report's own relative links, every
    ``src`` but inline PNG/JPEG/GIF images, and every other URL attribute; CSS
    ``url()`` to anything but ``data:`` and ``@import``.

    Returns
    -------
    (str, int)
        The page, and how many things were removed (0 for a page kpitools wrote from
        escaped data).
    """
    parser = _Sanitizer()
    parser.feed(page)
    parser.close()
    return "".join(parser.out), parser.removed


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralize_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` in which every text cell a spreadsheet would evaluate is
    prefixed with ``'`` (OWASP's rule for CSV injection: cells starting with ``=``,
    ``+``, ``-``, ``@``, a tab or a carriage return). Numbers, dates and Booleans are
    left as they are."""
    out = frame.copy()
    for column in out.columns:
        series = out[column]
        if not (series.dtype == object or pd.api.types.is_string_dtype(series)):
            continue
        text = series.astype("object")
        risky = text.map(lambda v: isinstance(v, str) and v.startswith(_FORMULA_START))
        if risky.any():
            out[column] = text.where(~risky, "'" + text.where(risky, "").astype(str))
    renamed = {c: "'" + c for c in out.columns if isinstance(c, str) and c.startswith(_FORMULA_START)}
    return out.rename(columns=renamed) if renamed else out
