"""The document model (heapmark_report.document) rendered to report.html: one
self-contained page (images inlined as data URIs; the style sheet report.css and
the scripts check_images.js and toggle_allocators.js of this package inlined),
with a contents list and a switch per allocator."""

import base64
import html
import os
import re

from heapmark_report import verdict as rv
from heapmark_report.md import numeric_col

HERE = os.path.dirname(os.path.abspath(__file__))


def asset(name):
    """A style sheet or script of this package (report.css, *.js), read at render
    time to be inlined into the page; the comment lines that open the file are
    about the file and stay out of the page."""
    with open(os.path.join(HERE, name), encoding="utf-8") as f:
        lines = f.read().splitlines(keepends=True)
    while lines and (lines[0].startswith("//") or lines[0].startswith("/*")):
        lines.pop(0)
    return "\n" + "".join(lines)


def _inline(s):
    s = html.escape(str(s), quote=False)
    s = re.sub(r"`([^`]*)`", r"<code>\1</code>", s)
    s = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", s)
    s = re.sub(r"(?<![\w*])\*([^*]+)\*(?![\w*])", r"<em>\1</em>", s)
    return s


def render_html(doc, out_dir, title):
    parts = []
    for b in doc:
        kind = b[0]
        if kind == "h":
            parts.append('<h%d id="%s">%s</h%d>' % (b[1], _anchor(b[2]), _inline(b[2]), b[1]))
        elif kind == "p":
            parts.append("<p>%s</p>" % _inline(b[1]))
        elif kind == "ul":
            parts.append("<ul>%s</ul>" % "".join("<li>%s</li>" % _inline(i) for i in b[1]))
        elif kind == "table":
            headers, rows = b[1], b[2]
            num = [i > 0 and numeric_col(rows, i) for i in range(len(headers))]
            # columns and rows that belong to one allocator carry data-alloc, so that
            # the reader's allocator switches can hide them
            col_alloc = [_alloc_of(h) if i > 0 else None for i, h in enumerate(headers)]
            t = ["<table><thead><tr>%s</tr></thead><tbody>"
                 % "".join("<th%s>%s</th>" % (_data_alloc(col_alloc[i]), _inline(h))
                           for i, h in enumerate(headers))]
            for r in rows:
                ra = next((x for x in (_alloc_of(c) for c in r[:3]) if x), None)
                t.append("<tr%s>%s</tr>" % (_data_alloc(ra), "".join(
                    "<td%s%s>%s</td>" % (' class="num"' if i < len(num) and num[i] else "",
                                         _data_alloc(col_alloc[i] if i < len(col_alloc) else None),
                                         _inline(c))
                    for i, c in enumerate(r))))
            t.append("</tbody></table>")
            parts.append("".join(t))
        elif kind == "img":
            figs = []
            for path, alt in b[1]:
                with open(os.path.join(out_dir, path + ".png"), "rb") as f:
                    data = base64.b64encode(f.read()).decode("ascii")
                # inlined, so that the page stands alone; a click opens the image at full
                # size (the PNG beside the page, with the SVG linked)
                figs.append('<figure><a href="%s.png" target="_blank"><img alt="%s" '
                            'src="data:image/png;base64,%s"></a><figcaption>%s: '
                            '<a href="%s.png">full size</a>, <a href="%s.svg">SVG</a>'
                            '</figcaption></figure>'
                            % (html.escape(path), html.escape(alt), data, html.escape(alt),
                               html.escape(path), html.escape(path)))
            parts.append('<div class="imgrow">%s</div>' % "".join(figs))
        elif kind == "details":
            parts.append("<details><summary>%s</summary>%s</details>"
                         % (_inline(b[1]), render_html_body(b[2], out_dir)))
    return parts


ALLOC_NAMES = []      # the allocators of the report being rendered (render_html_page sets it)


def _alloc_of(text):
    """The allocator a table header or cell names: exactly its name, with the
    own-allocator mark, a version or a run label after it."""
    t = re.sub(r"\*\*", "", str(text)).strip()
    for a in ALLOC_NAMES:
        if t == a or t == rv.mark(a) or re.match(r"^%s( \([^() ]+\)| [^ ()]+)$" % re.escape(a), t):
            return a
    return None


def _data_alloc(a):
    return ' data-alloc="%s"' % html.escape(a) if a else ""


def allocator_switches():
    """A checkbox per allocator: unticked hides its columns and rows."""
    if len(ALLOC_NAMES) < 2:
        return ""
    boxes = "".join('<label><input type="checkbox" class="hm-alloc" value="%s" checked> %s</label> '
                    % (html.escape(a), html.escape(a)) for a in ALLOC_NAMES)
    return ('<fieldset id="hm-allocs"><legend>Show allocators in the tables</legend>%s'
            '<small>(the images show every allocator; <code>#hide=a,b</code> at the end of the '
            'address starts with those hidden)</small></fieldset>' % boxes)


def _anchor(text):
    return "s-" + (re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x")


def toc(doc):
    """A contents list of the h2/h3 headings, linking inside the page."""
    items = []
    for b in doc:
        if b[0] == "h" and b[1] in (2, 3):
            items.append('<li class="l%d"><a href="#%s">%s</a></li>'
                         % (b[1], _anchor(b[2]), _inline(b[2])))
    return '<nav><strong>Contents</strong><ul>%s</ul></nav>' % "".join(items) if items else ""


def render_html_body(doc, out_dir):
    return "\n".join(render_html(doc, out_dir, ""))


def render_html_page(doc, out_dir, title, allocators=()):
    ALLOC_NAMES[:] = list(allocators)
    body = render_html_body(doc[:1], out_dir) + "\n" + toc(doc) + "\n" + allocator_switches() + \
        "\n" + render_html_body(doc[1:], out_dir)
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            "<title>%s</title>\n<style>%s</style>\n</head>\n<body>\n%s\n<script>%s%s</script>\n"
            "</body>\n</html>\n" % (html.escape(title), asset("report.css"), body,
                                     asset("check_images.js"), asset("toggle_allocators.js")))
