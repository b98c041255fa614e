// The page's stylesheet, inlined so report.html needs no other file.
import { RIGHT_COLOR, WRONG_COLOR } from './palette';
import { LOG_TOGGLE_ID } from './charts';

export const STYLE = `
:root { color-scheme: light; --ink: #1f2933; --muted: #5f6b7a; --line: #d9dee5; --soft: #f4f6f8;
  --accent: #0072B2; --right: ${RIGHT_COLOR}; --wrong: ${WRONG_COLOR}; }
* { box-sizing: border-box; }
body { margin: 0; background: #fbfcfd; color: var(--ink);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Liberation Sans", "DejaVu Sans", sans-serif; }
.page { max-width: 1240px; margin: 0 auto; padding: 28px 28px 56px; }
header { border-bottom: 1px solid var(--line); padding-bottom: 14px; margin-bottom: 8px; }
h1 { font-size: 26px; margin: 0 0 4px; letter-spacing: -0.01em; }
h2 { font-size: 20px; margin: 34px 0 12px; }
h3 { font-size: 16px; margin: 22px 0 8px; }
.subtitle { color: var(--muted); margin: 0; }
.muted { color: var(--muted); }
code { font: 13px/1.4 ui-monospace, "SFMono-Regular", Menlo, Consolas, "Liberation Mono", monospace; word-break: break-word; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(210px, 1fr)); gap: 12px; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 12px 16px; }
.card-label { color: var(--muted); font-size: 13px; text-transform: uppercase; letter-spacing: 0.04em; }
.card-value { font-size: 26px; font-weight: 600; font-variant-numeric: tabular-nums; margin: 2px 0; }
.card-detail { color: var(--muted); font-size: 13px; word-break: break-word; }
.card-ok { border-left: 4px solid var(--right); }
.card-bad, .card-warn { border-left: 4px solid var(--wrong); }
.ok { color: var(--right); font-weight: 600; }
.bad { color: var(--wrong); font-weight: 600; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; background: #fff; border: 1px solid var(--line); border-radius: 8px; font-variant-numeric: tabular-nums; }
th, td { padding: 7px 12px; text-align: left; border-bottom: 1px solid var(--line); vertical-align: top; }
thead th { background: var(--soft); font-size: 13px; color: var(--muted); font-weight: 600; white-space: nowrap; }
tbody tr:last-child th, tbody tr:last-child td { border-bottom: 0; }
.num { text-align: right; }
td .sub { color: var(--muted); font-size: 12px; }
.metric { font-weight: 600; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 8px; }
details { margin-top: 18px; }
summary { cursor: pointer; font-weight: 600; font-size: 16px; margin-bottom: 8px; }
.config-grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(250px, 1fr)); gap: 0 12px; margin: 0;
  background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 6px 14px; }
.config-grid div { padding: 6px 0; border-bottom: 1px solid var(--soft); min-width: 0; }
.config-grid dt { color: var(--muted); font-size: 12px; }
.config-grid dd { margin: 0; }
table.epochs td, table.epochs th { padding: 5px 10px; font-size: 13px; }
.section-head { display: flex; align-items: baseline; justify-content: space-between; gap: 16px; flex-wrap: wrap; }
.chart-grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr)); gap: 16px; }
.chart-card { margin: 0; background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 12px 14px 10px; }
.chart-card figcaption { font-weight: 600; margin-bottom: 4px; }
svg.chart { width: 100%; height: auto; display: block; font-size: 12px; font-family: inherit; }
svg.chart .grid { stroke: #e6e9ee; stroke-width: 1; }
svg.chart .axis { stroke: #7b8794; stroke-width: 1; }
svg.chart .tick { fill: #52606d; font-variant-numeric: tabular-nums; }
svg.chart .label { fill: var(--ink); font-size: 13px; }
.legend { list-style: none; display: flex; flex-wrap: wrap; gap: 4px 18px; margin: 4px 0 0; padding: 0; font-size: 13px; }
.legend li { display: flex; align-items: center; gap: 6px; }
.caption, .empty { color: var(--muted); font-size: 13px; margin: 6px 0 0; }
.empty { padding: 24px 0; text-align: center; }
.toggle-input { position: absolute; opacity: 0; width: 1px; height: 1px; }
.toggle { display: inline-flex; align-items: center; gap: 8px; cursor: pointer; user-select: none; font-size: 14px; }
.toggle .box { width: 18px; height: 18px; border: 2px solid var(--accent); border-radius: 4px; display: inline-grid; place-items: center;
  color: #fff; font-size: 13px; line-height: 1; }
#${LOG_TOGGLE_ID}:checked ~ .page .toggle .box { background: var(--accent); }
#${LOG_TOGGLE_ID}:checked ~ .page .toggle .box::after { content: "✓"; }
#${LOG_TOGGLE_ID}:focus-visible ~ .page .toggle { outline: 2px solid var(--accent); outline-offset: 3px; border-radius: 4px; }
#${LOG_TOGGLE_ID}:checked ~ .page .scale-linear { display: none; }
#${LOG_TOGGLE_ID}:not(:checked) ~ .page .scale-log { display: none; }
.legend-row { display: flex; flex-wrap: wrap; gap: 8px 28px; align-items: center; margin-bottom: 8px; }
.mark-legend li { display: flex; gap: 5px; }
.mark-legend, .mask-legend, .tallies { list-style: none; display: flex; flex-wrap: wrap; gap: 4px 16px; padding: 0; margin: 0; font-size: 13px; }
.tallies { color: var(--muted); margin-bottom: 12px; }
.chip { display: inline-block; width: 12px; height: 12px; border-radius: 3px; margin-right: 6px; vertical-align: -1px; }
.chip-bg { background: #222; }
.sample-grid { display: grid; gap: 12px; grid-template-columns: repeat(auto-fill, minmax(calc(var(--panels) * 90px + 16px), 1fr)); }
.sample { margin: 0; background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 8px 10px 10px; }
.sample-index { font-size: 12px; color: var(--muted); }
.panels { display: flex; flex-wrap: wrap; gap: 6px; }
.panel { display: flex; flex-direction: column; align-items: center; font-size: 11px; color: var(--muted); }
.panel img { box-sizing: content-box; image-rendering: pixelated; border: 1px solid var(--line); border-radius: 2px; }
.preds { list-style: none; padding: 0; margin: 6px 0 0; font-size: 14px; }
.preds li { display: flex; align-items: baseline; gap: 6px; }
.preds .task { color: var(--muted); font-size: 12px; min-width: 34px; }
.preds b { font-variant-numeric: tabular-nums; }
.right { color: var(--right); }
.wrong { color: var(--wrong); }
.mark { font-weight: 700; width: 1em; }
.neutral .task { margin-left: calc(1em + 6px); }
.truth { color: var(--muted); font-size: 12px; }
#notes ul { color: var(--muted); font-size: 13px; }
footer { margin-top: 40px; color: var(--muted); font-size: 12px; border-top: 1px solid var(--line); padding-top: 10px; }
@media print { .toggle { display: none; } .chart-card, .sample, .card { break-inside: avoid; } }
`;
