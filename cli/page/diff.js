// SPDX-License-Identifier: MIT
// idsrctl diff --html: the per-register summary, then each vCPU's hunks side by side, with next/previous change.
const A = DATA.a, Bs = DATA.b;
const reg = (r) => r[2] || r[3];
const val = (r) => r[5] + (r[6] ? " UNDEF" : "");

function sides() {
  const side = (s, label) => el("div", {}, el("h2", {}, `${label}: ${s.ref}`), facts([
    ["Boot", s.boot_id], ["Kernel", s.kernel], ["Implementation", s.impl], ["vCPUs", s.vcpus],
    ["Accesses", num(s.accesses)], ["KASLR slide", s.slide]]));
  const differs = DATA.added + DATA.removed + DATA.changed > 0;
  return el("section", { id: "sides" },
    el("h1", {}, differs ? `Different: ${num(DATA.added)} added, ${num(DATA.removed)} removed, ` +
      `${num(DATA.changed)} changed` : "Same accesses"),
    el("p", { class: "muted" }, `Matched on ${{ key: "(register, direction)", symbol: "(register, direction, function)",
      pc: "(register, direction, PC less the slide)" }[DATA.align]}; ${DATA.context} lines of context.`),
    side(A, "A (−)"), side(Bs, "B (+)"));
}

function summary() {
  const t = sortableTable([
    { title: "Register", key: (r) => r.name || r.enc, cell: (r) => r.name || r.enc },
    { title: "Encoding", key: (r) => r.enc, cell: (r) => el("code", {}, r.enc) },
    { title: "A", key: (r) => r.count_a, cell: (r) => num(r.count_a), num: true },
    { title: "B", key: (r) => r.count_b, cell: (r) => num(r.count_b), num: true },
    { title: "Added", key: (r) => r.added, cell: (r) => num(r.added), num: true },
    { title: "Removed", key: (r) => r.removed, cell: (r) => num(r.removed), num: true },
    { title: "Changed", key: (r) => r.changed, cell: (r) => num(r.changed), num: true },
    { title: "First change", key: (r) => r.first ? r.first.vcpu * 1e12 + r.first.seq : Infinity,
      cell: (r) => r.first ? `${r.first.op} vCPU ${r.first.vcpu} seq ${r.first.seq}` : "-" },
  ], DATA.regs.slice());
  return el("section", { id: "summary" }, el("h2", {}, "Per register"), t.table);
}

const CLASS = { "-": "line del", "+": "line add", "~": "line chg", " ": "line same" };

function side(r, other, cls) {
  if (!r) return [el("td", { class: cls }), el("td", { class: cls }), el("td", { class: cls }),
    el("td", { class: cls }), el("td", { class: cls })];
  const mark = (differs, text) => el("span", { class: differs ? "changed" : "" }, text);
  return [el("td", { class: cls + " num" }, String(r[0])), el("td", { class: cls + " hex" }, r[1]),
    el("td", { class: cls }, reg(r)), el("td", { class: cls }, r[4] ? "write" : "read"),
    el("td", { class: cls + " hex" }, mark(other && val(other) !== val(r), val(r)))];
}

function hunks() {
  const sec = el("section", { id: "hunks" }, el("h2", {}, "Changes"));
  let vcpu = null, tbody = null;
  for (const h of DATA.hunks) {
    if (h.vcpu !== vcpu) {
      vcpu = h.vcpu;
      tbody = el("tbody");
      sec.append(el("h2", {}, `vCPU ${vcpu}`), el("table", { class: "diff" }, el("thead", {}, el("tr", {},
        ...["seq", "where", "register", "dir", "value"].map((t) => el("th", {}, "A " + t)), el("th", {}),
        ...["seq", "where", "register", "dir", "value"].map((t) => el("th", {}, "B " + t)))), tbody));
    }
    tbody.append(el("tr", { class: "hunk" }, el("td", { colspan: 11 },
      `@@ vCPU ${h.vcpu} −${h.a_start},${h.a_count} +${h.b_start},${h.b_count} @@`)));
    for (const [op, a, b] of h.lines) {
      const tr = el("tr", { class: CLASS[op] }, ...side(a, op === "~" ? b : null, "a"),
        el("td", { class: "op" }, op === " " ? "" : op), ...side(b, op === "~" ? a : null, "b"));
      tbody.append(tr);
    }
  }
  if (!DATA.hunks.length) sec.append(el("p", {}, "No access was added, removed or changed."));
  if (DATA.left_out) sec.append(el("p", { class: "undef" },
    `${num(DATA.left_out)} more lines of hunks are left out (a page holds ${num(DATA.max_lines)}): ` +
    "the text diff (idsrctl diff without --html) has them all."));
  return sec;
}

// Next / previous change: n and p (or j and k) walk the marked lines.
let marks = [], at = -1;
function go(step) {
  if (!marks.length) return;
  if (at >= 0) marks[at].classList.remove("current");
  at = (at + step + marks.length) % marks.length;
  marks[at].classList.add("current");
  marks[at].scrollIntoView({ block: "center" });
  document.getElementById("where").textContent = `change ${at + 1} of ${marks.length}`;
}

const app = document.getElementById("app");
app.append(sides(), summary(),
  el("div", { class: "controls", id: "nav" }, el("button", { id: "prev", onclick: () => go(-1) }, "◀ Previous change"),
    el("button", { id: "next", onclick: () => go(1) }, "Next change ▶"), el("span", { id: "where", class: "muted" }, ""),
    el("span", { class: "muted" }, "keys: n / p")),
  hunks());
marks = Array.from(document.querySelectorAll("tr.del, tr.add, tr.chg"));
document.getElementById("where").textContent = `${marks.length} changes marked`;
// diff.html#change=N opens at the Nth change, as N presses of "Next change" would.
const linked = /^#change=(\d+)$/.exec(location.hash);
if (linked && +linked[1] > 0) go(+linked[1]);
document.addEventListener("keydown", (ev) => {
  if (ev.key === "n" || ev.key === "j") go(1);
  if (ev.key === "p" || ev.key === "k") go(-1);
});
rendered();
