"""The document model (heapmark_report.document) rendered to report.md."""

import html
import re

from heapmark_report.fmt import esc_md


def render_md(doc):
    out = []
    for b in doc:
        kind = b[0]
        if kind == "h":
            out.append("#" * b[1] + " " + b[2] + "\n")
        elif kind == "p":
            out.append(b[1] + "\n")
        elif kind == "ul":
            out.append("\n".join("- " + esc_md(i) for i in b[1]) + "\n")
        elif kind == "table":
            headers, rows = b[1], b[2]
            lines = ["| " + " | ".join(esc_md(h) for h in headers) + " |",
                     "|" + "|".join("---" if i < 1 else "---:" if numeric_col(rows, i) else "---"
                                    for i in range(len(headers))) + "|"]
            for r in rows:
                lines.append("| " + " | ".join(esc_md(c) for c in r) + " |")
            out.append("\n".join(lines) + "\n")
        elif kind == "img":
            out.append("\n\n".join("[![%s](%s.png)](%s.png) ([full size](%s.png), [SVG](%s.svg))"
                                   % (alt, path, path, path, path) for path, alt in b[1]) + "\n")
        elif kind == "details":
            out.append("<details><summary>%s</summary>\n\n%s\n</details>\n"
                       % (html.escape(b[1]), render_md(b[2])))
    return "\n".join(out)


def numeric_col(rows, i):
    return bool(rows) and all(re.match(r"^([-0-9.]|\*\*[-0-9.]|[A-Z]+$|missing$)", str(r[i]) or "x")
                              for r in rows if i < len(r))
