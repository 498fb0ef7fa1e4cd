"""The report's document model, rendered to Markdown and to self-contained HTML.

A report is a list of blocks, each a tuple whose first item names its kind:
``("h1", text)``, ``("h2", text)``, ``("p", text)``, ``("ul", [items])``,
``("table", header, rows)`` and ``("img", path, caption)``. Text may hold
Markdown ``**bold**`` and ```code``` spans. Both renderers read the same blocks,
so the two files say the same thing.
"""

from __future__ import annotations

import base64
import html
import os
from pathlib import Path

__all__ = ["render_html", "render_markdown"]


def render_markdown(blocks, out: Path) -> str:
    """The report blocks as Markdown; figure paths relative to ``out``."""
    lines = []
    for block in blocks:
        kind = block[0]
        if kind == "h1":
            lines += [f"# {block[1]}", ""]
        elif kind == "h2":
            lines += [f"## {block[1]}", ""]
        elif kind == "p":
            lines += [block[1], ""]
        elif kind == "ul":
            lines += [f"- {item}" for item in block[1]] + [""]
        elif kind == "table":
            header, body = block[1], block[2]
            lines.append("| " + " | ".join(header) + " |")
            lines.append("|" + "|".join("---" for _ in header) + "|")
            lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in body]
            lines.append("")
        elif kind == "img":
            rel = Path(os.path.relpath(block[1], out)).as_posix()
            lines += [f"![{block[2]}]({rel})", "", f"*{block[2]}*", ""]
    return "\n".join(lines)


def _inline(text: str) -> str:
    """Markdown ``**bold**`` and ``code`` spans to HTML (text escaped)."""
    out, bold, code = [], False, False
    i = 0
    text = html.escape(text)
    while i < len(text):
        if text.startswith("**", i) and not code:
            out.append("</b>" if bold else "<b>")
            bold = not bold
            i += 2
        elif text[i] == "`":
            out.append("</code>" if code else "<code>")
            code = not code
            i += 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;
max-width:1360px;padding:0 1em;color:#222;line-height:1.45}
.table{overflow-x:auto;margin:1em 0}
table{border-collapse:collapse;font-size:0.78em}
th,td{border:1px solid #ccc;padding:3px 4px;text-align:right;white-space:nowrap}
th{background:#f3f3f3;white-space:normal;vertical-align:bottom}
td:nth-child(2),td:nth-child(3),td:first-child{text-align:left}
table.device td:last-child{white-space:normal;min-width:7em;text-align:left}
.ci{color:#666;font-size:0.9em}
figure{margin:1.5em 0}img{max-width:100%}figcaption{font-size:0.9em;color:#555}
code{background:#f3f3f3;padding:0 3px}
"""


def _table_class(header) -> str:
    return "results device" if header and header[-1] == "device" else "results"


def _header_cell(text: str) -> str:
    """A header whose interval note goes on its own line (narrow columns)."""
    head, sep, tail = str(text).partition(" [")
    if not sep:
        return html.escape(head)
    return f"{html.escape(head)}<br><span class='ci'> [{html.escape(tail)}</span>"


def _value_cell(value) -> str:
    """``0.867 [0.765, 0.948]`` as the estimate over its interval, smaller.

    The text stays the Markdown cell's (the space before ``[`` is kept, and
    collapses at the start of the line), so copied values read the same.
    """
    estimate, sep, interval = str(value).partition(" [")
    if not sep or not interval.endswith("]"):
        return html.escape(str(value))
    interval = html.escape(interval)
    return f"{html.escape(estimate)}<br><span class='ci'> [{interval}</span>"


def render_html(blocks) -> str:
    """The report blocks as one self-contained HTML page (figures inlined)."""
    parts = [
        "<!DOCTYPE html>",
        "<html lang='en'><head><meta charset='utf-8'>",
        f"<title>{html.escape(blocks[0][1])}</title><style>{_CSS}</style>",
        "</head><body>",
    ]
    for block in blocks:
        kind = block[0]
        if kind in ("h1", "h2"):
            parts.append(f"<{kind}>{_inline(block[1])}</{kind}>")
        elif kind == "p":
            parts.append(f"<p>{_inline(block[1])}</p>")
        elif kind == "ul":
            parts.append(
                "<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in block[1]) + "</ul>"
            )
        elif kind == "table":
            header, body = block[1], block[2]
            parts.append(
                # A free-text last column (the device) wraps; numbers never do.
                f"<div class='table'><table class='{_table_class(header)}'>"
                "<thead><tr>"
                + "".join(f"<th>{_header_cell(h)}</th>" for h in header)
                + "</tr></thead><tbody>"
            )
            for row in body:
                parts.append(
                    "<tr>"
                    + "".join(f"<td>{_value_cell(c)}</td>" for c in row)
                    + "</tr>"
                )
            parts.append("</tbody></table></div>")
        elif kind == "img":
            data = base64.b64encode(Path(block[1]).read_bytes()).decode("ascii")
            parts.append(
                f"<figure><img alt='{html.escape(block[2], quote=True)}' "
                f"src='data:image/png;base64,{data}'><figcaption>"
                f"{html.escape(block[2])}</figcaption></figure>"
            )
    parts.append("</body></html>")
    return "\n".join(parts)
