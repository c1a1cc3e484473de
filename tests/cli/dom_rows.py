# SPDX-License-Identifier: MIT
# Prints what a rendered page shows (Chromium's --dump-dom), for the page tests:
#   dom_rows.py FILE table ID    each row of the table inside element ID: cells joined by |
#   dom_rows.py FILE text ID     the text of element ID
#   dom_rows.py FILE count CLASS the number of <tr> elements with class CLASS
import sys
from html.parser import HTMLParser

VOID = {"meta", "br", "img", "input", "link", "hr", "col", "source", "wbr"}


class Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack = []          # (tag, id, classes)
        self.rows = {}           # id -> rows of cells
        self.texts = {}          # id -> text
        self.classes = {}        # tr class -> count
        self.cell = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in VOID:
            return
        self.stack.append((tag, a.get("id"), (a.get("class") or "").split()))
        if tag == "tr":
            for c in (a.get("class") or "").split():
                self.classes[c] = self.classes.get(c, 0) + 1
            for _, i, _ in self.stack:
                if i and self.in_tbody():
                    self.rows.setdefault(i, []).append([])
        if tag in ("td",) and self.in_tbody():
            self.cell = []

    def in_tbody(self):
        return any(t == "tbody" for t, _, _ in self.stack)

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if tag == "td" and self.cell is not None:
            text = "".join(self.cell).strip()
            for _, i, _ in self.stack:
                if i in self.rows and self.rows[i]:
                    self.rows[i][-1].append(text)
            self.cell = None
        while self.stack:
            t, _, _ = self.stack.pop()
            if t == tag:
                break

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)
        for _, i, _ in self.stack:
            if i:
                self.texts[i] = self.texts.get(i, "") + data


path, what, key = sys.argv[1:4]
page = Page()
page.feed(open(path, encoding="utf-8").read())
if what == "table":
    for row in page.rows.get(key, []):
        if row:
            print("|".join(row))
elif what == "text":
    print(page.texts.get(key, "").strip())
elif what == "count":
    print(page.classes.get(key, 0))
