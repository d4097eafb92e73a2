/**
 * The report page's one script (plain ES2020, no imports: the page opens from disk). It reads the
 * data the page carries, shows a bar's details on click, pages and filters the event log, and on
 * the live dashboard takes updates over Server-Sent Events and asks the server to stop the run with
 * the token the user pastes. Texts from the run log only ever reach the page through
 * `textContent`; the only HTML it inserts is the server's own rendering of an update.
 *
 * @since 0.1.0
 */
export const reportScript = String.raw`(() => {
"use strict";
const PAGE = 200;
let data = { span: 0, iterations: [], lines: [] };
let shown = PAGE;
const $ = (id) => document.getElementById(id);
const el = (tag, cls, text) => { const e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = text; return e; };
const secs = (ms) => ms < 60000 ? (ms / 1000).toFixed(1) + " s" : Math.floor(ms / 60000) + " min " + Math.round((ms % 60000) / 1000) + " s";
const load = () => { const d = $("oompa-data"); data = d ? JSON.parse(d.textContent) : data; };
const filtered = () => {
  const text = ($("ev-text") || {}).value || "", worker = ($("ev-worker") || {}).value || "", tag = ($("ev-tag") || {}).value || "";
  const needle = text.toLowerCase();
  return data.lines.filter((l) => (worker === "" || l[1] === worker) && (tag === "" || l[2] === tag) && (needle === "" || l[3].toLowerCase().includes(needle) || l[2].toLowerCase().includes(needle)));
};
const renderEvents = () => {
  const rows = $("ev-rows"); if (!rows) return;
  const lines = filtered();
  const frag = document.createDocumentFragment();
  for (const l of lines.slice(0, shown)) {
    const tr = el("tr", "ev t-" + l[2]);
    tr.append(el("td", "time", secs(l[0])), el("td", "", l[1]), el("td", "tag", l[2]), el("td", "", l[3]));
    frag.append(tr);
  }
  rows.replaceChildren(frag);
  $("ev-count").textContent = lines.length === data.lines.length ? data.lines.length + " events" : lines.length + " of " + data.lines.length + " events";
  $("ev-more").hidden = lines.length <= shown;
};
const kv = (dl, k, v) => { if (v === undefined || v === null || v === "") return; dl.append(el("dt", "", k), el("dd", "", String(v))); };
const showDetail = (i) => {
  const it = data.iterations[i]; const box = $("detail"); if (!it || !box) return;
  box.replaceChildren();
  const close = el("button", "close", "close"); close.type = "button"; close.dataset.close = "1";
  box.append(close, el("h3", "", it.worker + " iteration " + it.iteration + (it.task ? ": " + it.task : "")));
  const dl = el("dl", "kv");
  kv(dl, "outcome", it.kindLabel + (it.outcome ? " (" + it.outcome + ")" : ""));
  kv(dl, "time", secs(it.start) + " to " + (it.end === undefined || it.end === null ? "now" : secs(it.end)));
  kv(dl, "merge", it.merge); kv(dl, "kept branch", it.kept);
  if (it.timings) kv(dl, "phases", Object.keys(it.timings).filter((k) => it.timings[k] > 0).map((k) => k + " " + secs(it.timings[k])).join(", "));
  box.append(dl);
  if (it.detail) { box.append(el("h4", "", "why")); box.append(el("pre", "", it.detail)); }
  if (it.policy.length) { box.append(el("h4", "", "policy")); box.append(el("pre", "", it.policy.join("\n"))); }
  if (it.calls.length) {
    box.append(el("h4", "", "agent calls"));
    const ul = el("ul");
    for (const c of it.calls) ul.append(el("li", "", c.call + " by " + c.agent + ": " + (c.timedOut ? "timed out" : "exit " + c.exitCode) + " in " + secs(c.durationMs) +
      (c.tokens ? ", " + c.tokens.input + " in / " + c.tokens.output + " out tokens" : "") + (c.costUsd !== undefined ? ", $" + c.costUsd.toFixed(4) : "") + (c.error ? " (" + c.error + ")" : "")));
    box.append(ul);
  }
  for (const r of it.reviews) { box.append(el("h4", "", "review " + r.attempt + " by " + r.reviewer + ": " + r.verdict)); box.append(el("pre", "", r.feedback)); }
  box.hidden = false;
};
document.addEventListener("click", (e) => {
  const t = e.target;
  if (!(t instanceof Element)) return;
  const bar = t.closest(".bar");
  if (bar) { showDetail(Number(bar.getAttribute("data-i"))); return; }
  if (t.closest("[data-close]")) { $("detail").hidden = true; return; }
  if (t.id === "ev-more") { shown += PAGE; renderEvents(); return; }
  if (t.id === "stop") stop();
});
document.addEventListener("input", (e) => { const id = e.target && e.target.id; if (id === "ev-text" || id === "ev-worker" || id === "ev-tag") { shown = PAGE; renderEvents(); } });
const stop = () => {
  const answer = $("stop-answer"), token = $("stop-token").value;
  answer.textContent = "asking…";
  fetch(document.body.dataset.stop, { method: "POST", headers: { "x-oompa-stop-token": token } })
    .then((r) => r.text().then((t) => { answer.textContent = t; answer.className = r.ok ? "ok" : "refused"; }))
    .catch((err) => { answer.textContent = "no answer: " + err; answer.className = "refused"; });
};
const live = () => {
  const url = document.body.dataset.updates; if (!url) return;
  const state = $("live-state");
  const source = new EventSource(url);
  source.addEventListener("report", (e) => {
    const keep = { text: ($("ev-text") || {}).value, worker: ($("ev-worker") || {}).value, tag: ($("ev-tag") || {}).value, open: !$("detail").hidden };
    $("report").innerHTML = JSON.parse(e.data);
    for (const id of ["text", "worker", "tag"]) { const input = $("ev-" + id); if (input && keep[id]) input.value = keep[id]; }
    load(); renderEvents();
    state.textContent = "live: updated " + new Date().toLocaleTimeString();
  });
  source.addEventListener("finished", () => { state.textContent = "run finished"; source.close(); });
  source.onerror = () => { state.textContent = "disconnected; retrying"; };
};
load(); renderEvents(); live();
})();`
