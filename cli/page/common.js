// SPDX-License-Identifier: MIT
// What both pages (idsrctl report, idsrctl diff --html) share: building the DOM, numbers, sortable tables.
"use strict";
const DATA = JSON.parse(document.getElementById("idsr-data").textContent);

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const k of kids) if (k !== null && k !== undefined) e.append(k);
  return e;
}

const num = (n) => Number(n).toLocaleString("en-US");
const hex16 = (h) => "0x" + String(h).padStart(16, "0");

function duration(ns) {
  if (ns < 0) return "-";
  if (ns < 1e3) return ns + " ns";
  if (ns < 1e6) return (ns / 1e3).toFixed(1) + " µs";
  if (ns < 1e9) return (ns / 1e6).toFixed(2) + " ms";
  return (ns / 1e9).toFixed(3) + " s";
}

// A colour per register index, far apart for neighbours (golden angle).
// (Starting at blue: red is kept for UNDEFs.)
const regColour = (i) => `hsl(${(210 + i * 137.508) % 360}, 62%, ${i % 2 ? 42 : 55}%)`;

function facts(pairs) {
  return el("dl", { class: "facts" }, ...pairs.map(([k, v]) =>
    el("div", {}, el("dt", {}, k), el("dd", {}, v === null || v === undefined ? "-" : String(v)))));
}

// A table whose columns sort on a click (numbers descending first).
// cols: [{title, key(row) -> sort value, cell(row) -> td content, num}]; rows: objects.
// after(row, tr): optional, called as each row is placed (e.g. to add a detail row).
function sortableTable(cols, rows, after) {
  const tbody = el("tbody");
  const ths = cols.map((c, i) => el("th", { class: "sortable", onclick: () => sortBy(i) }, c.title));
  let by = -1, desc = false;
  function fill() {
    tbody.textContent = "";
    for (const r of rows) {
      const tr = el("tr", {}, ...cols.map((c) => el("td", { class: c.num ? "num" : "" }, c.cell(r))));
      tbody.append(tr);
      if (after) after(r, tr);
    }
  }
  function sortBy(i) {
    desc = by === i ? !desc : !!cols[i].num;
    by = i;
    const k = cols[i].key;
    rows.sort((x, y) => (k(x) < k(y) ? -1 : k(x) > k(y) ? 1 : 0) * (desc ? -1 : 1));
    ths.forEach((th, j) => th.className = "sortable" + (j === i ? (desc ? " sorted-desc" : " sorted-asc") : ""));
    fill();
  }
  fill();
  return { table: el("table", {}, el("thead", {}, el("tr", {}, ...ths)), tbody), sortBy };
}

// Marks the end of the first complete render: ms since navigation start.
function rendered() {
  const ms = performance.now();
  document.body.dataset.renderMs = ms.toFixed(1);
  document.getElementById("app").append(el("footer", { id: "rendered" },
    `idsrctl · rendered in ${ms.toFixed(0)} ms after navigation start`));
}
