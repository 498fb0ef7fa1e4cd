"""The HTML report's tables read at a glance: intervals under their estimates."""

from __future__ import annotations

from html.parser import HTMLParser

from skmedtl.study._report_render import render_html as _html


class _Cells(HTMLParser):
    def __init__(self):
        super().__init__()
        self.cells, self.tables, self._in = [], [], False

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append(dict(attrs).get("class"))
        if tag in ("td", "th"):
            self._in, self._text = True, []

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self._in = False
            self.cells.append("|".join(self._text))  # | marks the line break

    def handle_data(self, data):
        if self._in:
            self._text.append(data)


def _render(header, rows):
    parser = _Cells()
    parser.feed(_html([("h1", "t"), ("table", header, rows)]))
    return parser


def test_interval_goes_under_its_estimate_and_nothing_is_lost():
    parser = _render(
        ["approach", "test AUC [95% CI]", "device"],
        [["full", "0.867 [0.765, 0.948]", "cpu (1 thread), embeddings by onnxruntime"]],
    )
    assert parser.cells == [
        "approach",
        "test AUC| [95% CI]",
        "device",
        "full",
        "0.867| [0.765, 0.948]",
        "cpu (1 thread), embeddings by onnxruntime",
    ]
    assert parser.tables == ["results device"]


def test_text_without_an_interval_is_escaped_unchanged():
    parser = _render(["note", "p"], [["a < b [not closed", "0.05"]])
    assert parser.cells[2:] == ["a < b [not closed", "0.05"]
    assert parser.tables == ["results"]
