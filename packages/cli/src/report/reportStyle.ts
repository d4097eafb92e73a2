/**
 * The report page's CSS: bar colours per outcome (the legend's), phases, tables. System fonts only.
 *
 * @since 0.1.0
 */
export const reportStyle = `
:root{--merged:#2e9d50;--fixed:#15868a;--rejected:#e08a00;--policy:#8e44ad;--test-failed:#d64545;--conflict:#a0522d;--error:#7f1d1d;--timeout:#c2185b;--other:#9aa0a6;--running:#4a7fd6;
--fg:#1d232a;--muted:#5f6b76;--line:#d8dee4;--bg:#fff;--panel:#f6f8fa}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
main{max-width:1280px;margin:0 auto;padding:16px 24px 48px}
h1{font-size:22px;margin:8px 0 2px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid var(--line);padding-bottom:4px}h3{font-size:15px;margin:16px 0 6px}
code,pre{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
pre{white-space:pre-wrap;word-break:break-word;margin:4px 0;max-height:16em;overflow:auto;background:var(--panel);padding:6px 8px;border-radius:4px}
.sub{color:var(--muted);margin:0 0 10px}
.stats{display:flex;flex-wrap:wrap;gap:8px;margin:0}.stats div{background:var(--panel);border-radius:6px;padding:6px 10px;min-width:92px}
.stats dt{font-size:11px;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}.stats dd{margin:0;font-weight:600}
.outcome{font-size:13px;padding:2px 8px;border-radius:10px;color:#fff;background:var(--other);vertical-align:middle}
.o-ok{background:var(--merged)}.o-failed,.o-died{background:var(--test-failed)}.o-interrupted{background:var(--rejected)}.o-running{background:var(--running)}.o-unavailable{background:var(--error)}
.alert{background:#fff4e5;border-left:4px solid var(--rejected);padding:6px 10px}
.legend{list-style:none;padding:0;margin:0 0 6px;display:flex;flex-wrap:wrap;gap:4px 14px;font-size:12px;color:var(--muted)}
.swatch{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:5px;vertical-align:-1px}
svg.timeline{width:100%;height:auto;display:block;background:var(--panel);border-radius:6px}
.lane-label{font-size:11px;fill:var(--muted)}.tick{stroke:var(--line);stroke-width:.5}.tick-label{font-size:9px;fill:var(--muted);text-anchor:middle}
.bar{cursor:pointer;rx:2}.bar:hover{stroke:var(--fg);stroke-width:1}
.k-merged{fill:var(--merged);background:var(--merged)}.k-fixed{fill:var(--fixed);background:var(--fixed)}.k-rejected{fill:var(--rejected);background:var(--rejected)}
.k-policy{fill:var(--policy);background:var(--policy)}.k-test-failed{fill:var(--test-failed);background:var(--test-failed)}.k-conflict{fill:var(--conflict);background:var(--conflict)}
.k-error{fill:var(--error);background:var(--error)}.k-timeout{fill:var(--timeout);background:var(--timeout)}.k-other{fill:var(--other);background:var(--other)}
.k-running{fill:var(--running);background:var(--running);opacity:.7}
.test{fill:#9fd3ad;background:#9fd3ad}.t-failed{fill:var(--test-failed);background:var(--test-failed)}.t-passed{fill:#9fd3ad;background:#9fd3ad}
.merge{fill:var(--other);background:var(--other)}.m-merged{fill:var(--merged);background:var(--merged)}.m-conflict{fill:var(--conflict)}.m-test-failed{fill:var(--test-failed)}.m-policy-failed{fill:var(--policy)}
#detail{position:relative;margin-top:10px;border:1px solid var(--line);border-radius:6px;padding:8px 14px;background:#fff}
#detail .close{position:absolute;right:8px;top:8px}
.kv{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:0}.kv dt{color:var(--muted)}.kv dd{margin:0}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{text-align:left;vertical-align:top;padding:4px 8px;border-bottom:1px solid var(--line)}th{font-weight:600;color:var(--muted);font-size:12px}
.chip{display:inline-block;background:var(--panel);border-radius:8px;padding:0 6px;margin:1px;font-size:12px}
.verdict{font-size:12px;padding:0 5px;border-radius:6px;color:#fff}.v-approved{background:var(--merged)}.v-needs-changes{background:var(--rejected)}.v-rejected{background:var(--test-failed)}
.status{font-size:12px;font-weight:600}.s-failed{color:var(--test-failed)}.s-complete{color:var(--merged)}.s-current{color:var(--running)}
.review{margin:6px 0}.hint{color:var(--muted);font:11px ui-monospace,monospace}.none{color:var(--muted)}
.phasebar{display:flex;height:12px;min-width:160px;border-radius:3px;overflow:hidden;background:var(--panel)}.phasebar .ph{display:block;height:100%}
.ph-setup{background:#b0bec5}.ph-agent{background:#4a7fd6}.ph-review{background:#8e44ad}.ph-fix{background:#15868a}.ph-git{background:#f0b429}.ph-test{background:#d64545}.ph-mergeWait{background:#9aa0a6}
table.phases{width:auto;margin-top:8px}
.filters{display:flex;gap:8px;align-items:center;margin-bottom:6px}.filters input{min-width:240px}
table.events td.time{white-space:nowrap;color:var(--muted)}table.events td.tag{white-space:nowrap;font-size:12px}
#live{position:sticky;top:0;z-index:2;background:#0d1117;color:#e6edf3;padding:6px 24px;display:flex;gap:8px;align-items:center}
#stop-answer.ok{color:#7ee787}#stop-answer.refused{color:#ff7b72}
`
