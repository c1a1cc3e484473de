// SPDX-License-Identifier: MIT
// idsrctl report: summary, a per-vCPU timeline (zoom, pan, hover), the register table and the rules of one boot.
const B = DATA.boot, REGS = DATA.regs, EXACT = DATA.exact;
const SPAN = Math.max(1, ...REGS.map((r) => r.last_t));
const regName = (i) => REGS[i].name || REGS[i].enc;
const where = (pcIndex) => !B.has_pcs ? "not recorded" :
  EXACT.pcs[pcIndex] + (EXACT.syms ? "  " + EXACT.syms[pcIndex] : "");
const regWhere = (pc, sym) => el("code", { title: pc }, !B.has_pcs ? "-" : sym || pc);
const shortHex = (h) => h.replace(/^0x0+(?=.)/, "0x");

function summary() {
  const title = `Boot ${B.id}` + (B.vm_name ? ` · ${B.vm_name}` : "") + (B.kernel ? ` · ${B.kernel}` : "");
  const pol = DATA.policies.map((p) => el("details", {},
    el("summary", {}, `Policy ${p.hash.slice(0, 12)}… ${p.source || ""}`), el("pre", {}, p.text)));
  return el("section", { id: "summary" }, el("h1", {}, title), facts([
    ["VM", B.vm_name], ["VMM", B.vmm], ["Kernel", B.kernel], ["Implementation", B.impl],
    ["vCPUs", B.vcpus], ["Accesses", num(B.rows)], ["UNDEFs", num(B.undefs)], ["Divergences", num(B.divergences)],
    ["Rows dropped", num(B.rows_dropped)], ["Duration", duration(B.duration_ns)], ["Mode", B.mode],
    ["Ended", B.end_reason], ["PCs", B.has_pcs ? "recorded" : "not recorded (imported)"], ["KASLR slide", shortHex(B.slide)], ["Policy hash", B.policy_hash], ["Trace", B.trace]]),
    ...pol);
}

// ---- timeline ------------------------------------------------------------------
const LANE = 46, BARS = 30, AXIS = 22, LEFT = 70;
const lanes = DATA.vcpus.map((v) => {
  const total = new Map();
  for (let i = 0; i < v.cells.length; i += 4) total.set(v.cells[i], (total.get(v.cells[i]) || 0) + v.cells[i + 2]);
  return { v, total, rows: EXACT.rows.filter((r) => r[0] === v.vcpu) };
});
const maxBucket = Math.max(1, ...lanes.map((l) => Math.max(0, ...l.total.values())));
let view = [0, SPAN], canvas, tip, ctx;

function x(t, w) { return LEFT + (t - view[0]) / (view[1] - view[0]) * (w - LEFT); }
function tAt(px, w) { return view[0] + (px - LEFT) / (w - LEFT) * (view[1] - view[0]); }

function draw() {
  const w = canvas.clientWidth, h = canvas.height / devicePixelRatio;
  ctx.setTransform(devicePixelRatio, 0, 0, devicePixelRatio, 0, 0);
  ctx.clearRect(0, 0, w, h);
  ctx.font = "11px system-ui, sans-serif";
  const bw = SPAN / Math.max(1, DATA.buckets - 1);
  lanes.forEach((l, li) => {
    const top = li * LANE, base = top + BARS;
    ctx.fillStyle = "#1d2330";
    ctx.fillText(`vCPU ${l.v.vcpu}`, 6, top + 18);
    ctx.strokeStyle = "#eef0f3";
    ctx.beginPath(); ctx.moveTo(LEFT, top + LANE - 0.5); ctx.lineTo(w, top + LANE - 0.5); ctx.stroke();
    const c = l.v.cells, stack = new Map();
    for (let i = 0; i < c.length; i += 4) {
      const t = c[i] * bw, x0 = x(t - bw / 2, w), x1 = x(t + bw / 2, w);
      if (x1 < LEFT || x0 > w) continue;
      const hgt = c[i + 2] / maxBucket * (BARS - 4), y = stack.get(c[i]) || base;
      ctx.fillStyle = regColour(c[i + 1]);
      ctx.fillRect(Math.max(LEFT, x0), y - hgt, Math.max(1, x1 - x0), hgt);
      stack.set(c[i], y - hgt);
      if (c[i + 3]) { ctx.fillStyle = "#b3261e"; ctx.fillRect(Math.max(LEFT, x0), top + 1, Math.max(2, x1 - x0), 3); }
    }
    // exact accesses as ticks under the bars, when the view is narrow enough to tell them apart
    const vis = l.rows.filter((r) => r[1] >= view[0] && r[1] <= view[1]);
    if (vis.length && vis.length < (w - LEFT) * 2)
      for (const r of vis) {
        ctx.fillStyle = r[5] & 2 ? "#b3261e" : regColour(r[3]);
        ctx.fillRect(x(r[1], w) - 0.5, base + 2, r[5] & 2 ? 2 : 1, LANE - BARS - 5);
      }
  });
  const ay = lanes.length * LANE + 14;
  ctx.fillStyle = "#5b6576";
  for (let i = 0; i <= 5; i++) {
    const t = view[0] + (view[1] - view[0]) * i / 5, px = x(t, w);
    ctx.fillText(duration(Math.round(t)), Math.min(px, w - 60), ay);
  }
  document.getElementById("view").textContent =
    `showing ${duration(Math.round(view[0]))} – ${duration(Math.round(view[1]))} of ${duration(SPAN)}`;
}

function hover(ev) {
  const w = canvas.clientWidth, rect = canvas.getBoundingClientRect();
  const px = ev.clientX - rect.left, py = ev.clientY - rect.top, li = Math.floor(py / LANE), l = lanes[li];
  tip.style.display = "none";
  if (!l || px < LEFT) return;
  let text = null;
  if (py - li * LANE > BARS) {
    let best = null, bd = 5;
    for (const r of l.rows) {
      const d = Math.abs(x(r[1], w) - px);
      if (d < bd) { bd = d; best = r; }
    }
    if (best) text = accessText(best);
  }
  if (!text) {
    const bw = SPAN / Math.max(1, DATA.buckets - 1), b = Math.round(tAt(px, w) / bw), c = l.v.cells, parts = [];
    for (let i = 0; i < c.length; i += 4)
      if (c[i] === b) parts.push(`${regName(c[i + 1])}: ${num(c[i + 2])}` + (c[i + 3] ? ` (${c[i + 3]} UNDEF)` : ""));
    if (parts.length)
      text = `vCPU ${l.v.vcpu}  ${duration(Math.round((b - 0.5) * bw))} – ${duration(Math.round((b + 0.5) * bw))}\n` +
        parts.join("\n");
  }
  if (text) showTip(text, px, py);
}

function accessText(r) {
  const rule = DATA.rules[r[7]];
  return `vCPU ${r[0]}  seq ${r[2]}  t ${duration(r[1])}\nPC ${where(r[4])}\n` +
    `${regName(r[3])} (${REGS[r[3]].enc})\n${r[5] & 1 ? "write" : "read"} ${hex16(r[6])}\n` +
    `answer ${r[5] & 2 ? "UNDEF" : "emulate"}  rule ${rule.label}${rule.text ? ": " + rule.text.replace(/\s+/g, " ") : ""}`;
}

function showTip(text, px, py) {
  tip.textContent = text;
  tip.style.display = "block";
  tip.style.left = Math.max(0, Math.min(px + 14, canvas.clientWidth - tip.offsetWidth - 4)) + "px";
  tip.style.top = py + 14 + "px";
}

// report.html#access=V:SEQ zooms to that access and shows it as a hover would (a link to one access).
function showLinkedAccess() {
  const m = /^#access=(\d+):(\d+)$/.exec(location.hash);
  const r = m && EXACT.rows.find((e) => e[0] === +m[1] && e[2] === +m[2]);
  if (!r) return;
  const half = Math.max(500, SPAN / 200);
  view = [Math.max(0, r[1] - half), Math.min(SPAN, r[1] + half)];
  draw();
  const li = lanes.findIndex((l) => l.v.vcpu === r[0]);
  showTip(accessText(r), x(r[1], canvas.clientWidth), li * LANE + BARS);
}

function zoom(factor, at) {
  const span = Math.min(SPAN, Math.max(100, (view[1] - view[0]) * factor));
  let a = at - (at - view[0]) * span / (view[1] - view[0]);
  a = Math.max(0, Math.min(SPAN - span, a));
  view = [a, a + span];
  draw();
}

function timeline() {
  canvas = el("canvas", { id: "timeline" });
  ctx = canvas.getContext("2d");
  tip = el("div", { id: "tip" });
  const mid = () => (view[0] + view[1]) / 2;
  const legend = el("div", { class: "legend", id: "legend" }, ...REGS.map((r, i) =>
    el("span", {}, el("span", { class: "swatch", style: `background:${regColour(i)}` }), regName(i))),
  el("span", {}, el("span", { class: "swatch", style: "background:#b3261e" }), "UNDEF"));
  const nexact = EXACT.rows.length, more = EXACT.from_seq > 0 || DATA.vcpus.some((v) => v.more);
  const sec = el("section", { id: "timeline-section" }, el("h2", {}, "Timeline"),
    el("div", { class: "controls" },
      el("button", { onclick: () => zoom(0.5, mid()) }, "Zoom in"),
      el("button", { onclick: () => zoom(2, mid()) }, "Zoom out"),
      el("button", { onclick: () => { view = [0, SPAN]; draw(); } }, "Reset"),
      el("span", { id: "view", class: "muted" })),
    legend, el("div", { id: "timeline-wrap" }, canvas, tip),
    el("p", { class: "muted" }, `Bars: accesses per ${DATA.buckets}th of the boot, stacked by register; red marks: ` +
      `UNDEFs. Ticks below the bars: exact accesses (${num(nexact)} kept` +
      (more ? `: each vCPU's first ${num(Math.floor(EXACT.bound / Math.max(1, B.vcpus)))} from seq ${EXACT.from_seq}`
        : ": all of them") + `). Wheel zooms, drag pans, double-click resets; hover for details.`));
  let drag = null;
  canvas.addEventListener("wheel", (ev) => {
    ev.preventDefault();
    zoom(ev.deltaY > 0 ? 1.25 : 0.8, tAt(ev.offsetX, canvas.clientWidth));
  }, { passive: false });
  canvas.addEventListener("mousedown", (ev) => { drag = { x: ev.clientX, v: view.slice() }; });
  window.addEventListener("mouseup", () => { drag = null; });
  canvas.addEventListener("mousemove", (ev) => {
    if (drag) {
      const dt = (drag.x - ev.clientX) / (canvas.clientWidth - LEFT) * (drag.v[1] - drag.v[0]);
      const a = Math.max(0, Math.min(SPAN - (drag.v[1] - drag.v[0]), drag.v[0] + dt));
      view = [a, a + drag.v[1] - drag.v[0]];
      draw();
    }
    hover(ev);
  });
  canvas.addEventListener("mouseleave", () => { tip.style.display = "none"; });
  canvas.addEventListener("dblclick", () => { view = [0, SPAN]; draw(); });
  return sec;
}

function sizeCanvas() {
  const h = lanes.length * LANE + AXIS;
  canvas.width = canvas.clientWidth * devicePixelRatio;
  canvas.height = h * devicePixelRatio;
  canvas.style.height = h + "px";
  draw();
}

// ---- registers and rules ---------------------------------------------------------
function history(r) {
  const byVcpu = new Map();
  for (const [vcpu, seq, t, v] of r.hist) {
    if (!byVcpu.has(vcpu)) byVcpu.set(vcpu, []);
    byVcpu.get(vcpu).push(`seq ${seq} (${duration(t)}): ${hex16(v)}`);
  }
  const div = el("div", {}, el("strong", {}, `${regName(REGS.indexOf(r))}: ${num(r.distinct)} distinct value` +
    (r.distinct === 1 ? "" : "s") + "; changes of value per vCPU"));
  for (const [vcpu, list] of byVcpu) div.append(el("div", { class: "mono" }, `vCPU ${vcpu}: ` + list.join(" → ")));
  if (r.hist_more) div.append(el("div", { class: "muted" }, `… and ${num(r.hist_more)} later changes`));
  return div;
}

function registers() {
  const rows = REGS.slice();
  const cols = [
    { title: "Register", key: (r) => regName(REGS.indexOf(r)),
      cell: (r) => el("span", {}, el("span", { class: "swatch", style: `background:${regColour(REGS.indexOf(r))}` }),
        regName(REGS.indexOf(r))) },
    { title: "Encoding", key: (r) => r.enc, cell: (r) => el("code", {}, r.enc) },
    { title: "Accesses", key: (r) => r.count, cell: (r) => num(r.count), num: true },
    { title: "Reads", key: (r) => r.reads, cell: (r) => num(r.reads), num: true },
    { title: "Writes", key: (r) => r.writes, cell: (r) => num(r.writes), num: true },
    { title: "Distinct values", key: (r) => r.distinct, cell: (r) => num(r.distinct), num: true },
    { title: "First PC", key: (r) => r.first_pc, cell: (r) => regWhere(r.first_pc, r.first_sym) },
    { title: "Last PC", key: (r) => r.last_pc, cell: (r) => regWhere(r.last_pc, r.last_sym) },
    { title: "UNDEFs", key: (r) => r.undefs, cell: (r) => r.undefs ? el("span", { class: "undef" }, num(r.undefs)) : "0",
      num: true },
  ];
  const t = sortableTable(cols, rows, (r, tr) => {
    tr.className = "reg";
    tr.title = "click: value history";
    tr.addEventListener("click", () => {
      if (tr.nextSibling && tr.nextSibling.classList.contains("detail")) { tr.nextSibling.remove(); return; }
      tr.after(el("tr", { class: "detail" }, el("td", { colspan: cols.length }, history(r))));
    });
  });
  t.sortBy(2);
  return el("section", { id: "registers" }, el("h2", {}, `Registers (${REGS.length})`), t.table);
}

function rules() {
  const t = sortableTable([
    { title: "Rule", key: (u) => u.label, cell: (u) => el("code", {}, u.label) },
    { title: "Text", key: (u) => u.text || "", cell: (u) => el("code", {}, u.text || "") },
    { title: "Hits", key: (u) => u.hits, cell: (u) => num(u.hits), num: true },
    { title: "UNDEFs", key: (u) => u.undefs, cell: (u) => num(u.undefs), num: true },
  ], DATA.rules.slice());
  t.sortBy(2);
  return el("section", { id: "rules" }, el("h2", {}, "Policy rules that answered"), t.table);
}

const app = document.getElementById("app");
app.append(summary(), timeline(), registers(), rules());
sizeCanvas();
window.addEventListener("resize", sizeCanvas);
showLinkedAccess();
rendered();
