/**
 * A tiny SVG bar-chart writer: a grid of panels, each a set of horizontal bars with the
 * value printed, an optional min-max whisker and an optional target line. No dependencies.
 */
import { fmt } from './stats';

export interface Bar {
  label: string;
  value: number;
  /** Whisker from low to high (e.g. the range of repeated runs). */
  low?: number;
  high?: number;
  color: string;
  /** Text printed after the bar; default: the value. */
  text?: string;
}

export interface Panel {
  title: string;
  unit: string;
  bars: Bar[];
  /** A dashed vertical line, e.g. a target. */
  threshold?: { value: number; label: string };
}

const PANEL_WIDTH = 460;
const LABEL_WIDTH = 118;
const VALUE_WIDTH = 92;
const BAR_HEIGHT = 15;
const BAR_GAP = 6;
const PANEL_TITLE = 22;
const AXIS = 22;
const PAD = 14;

const esc = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** About four round tick values from 0 to at least max. */
function ticks(max: number): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / 4;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let t = 0; t <= max + step * 0.001; t += step) out.push(Number(t.toPrecision(6)));
  if (out[out.length - 1]! < max) out.push(Number((out[out.length - 1]! + step).toPrecision(6)));
  return out;
}

/** Extra room under the title for a target line's label. */
const THRESHOLD_ROOM = 12;

function panelHeight(panel: Panel): number {
  return PANEL_TITLE + (panel.threshold === undefined ? 0 : THRESHOLD_ROOM) + Math.max(1, panel.bars.length) * (BAR_HEIGHT + BAR_GAP) + AXIS;
}

function renderPanel(panel: Panel, x0: number, y0: number): string {
  const parts: string[] = [];
  const plotX = x0 + LABEL_WIDTH;
  const plotWidth = PANEL_WIDTH - LABEL_WIDTH - VALUE_WIDTH - PAD;
  const finite = panel.bars.flatMap((b) => [b.value, b.high ?? b.value]).filter(Number.isFinite);
  const max = Math.max(...finite, panel.threshold?.value ?? 0, 0);
  const axis = ticks(max);
  const top = axis[axis.length - 1]!;
  const xOf = (v: number): number => plotX + (Math.max(0, Math.min(v, top)) / top) * plotWidth;
  parts.push(`<text x="${x0}" y="${y0 + 15}" class="pt">${esc(panel.title)} <tspan class="unit">(${esc(panel.unit)})</tspan></text>`);
  const barsTop = y0 + PANEL_TITLE + (panel.threshold === undefined ? 0 : THRESHOLD_ROOM);
  const barsBottom = barsTop + panel.bars.length * (BAR_HEIGHT + BAR_GAP);
  for (const t of axis) {
    const x = xOf(t).toFixed(1);
    parts.push(`<line x1="${x}" y1="${barsTop - 2}" x2="${x}" y2="${barsBottom}" class="grid"/>`);
    parts.push(`<text x="${x}" y="${barsBottom + 13}" class="tick">${esc(String(t))}</text>`);
  }
  panel.bars.forEach((bar, i) => {
    const y = barsTop + i * (BAR_HEIGHT + BAR_GAP);
    parts.push(`<text x="${plotX - 6}" y="${y + BAR_HEIGHT - 3}" class="label">${esc(bar.label)}</text>`);
    if (Number.isFinite(bar.value)) {
      const w = Math.max(1, xOf(bar.value) - plotX);
      parts.push(`<rect x="${plotX}" y="${y}" width="${w.toFixed(1)}" height="${BAR_HEIGHT}" fill="${bar.color}"><title>${esc(`${bar.label}: ${bar.text ?? fmt(bar.value)} ${panel.unit}`)}</title></rect>`);
      if (bar.low !== undefined && bar.high !== undefined && bar.high > bar.low) {
        const mid = y + BAR_HEIGHT / 2;
        const a = xOf(bar.low).toFixed(1);
        const b = xOf(bar.high).toFixed(1);
        parts.push(`<line x1="${a}" y1="${mid}" x2="${b}" y2="${mid}" class="wh"/>`);
        parts.push(`<line x1="${a}" y1="${mid - 4}" x2="${a}" y2="${mid + 4}" class="wh"/>`);
        parts.push(`<line x1="${b}" y1="${mid - 4}" x2="${b}" y2="${mid + 4}" class="wh"/>`);
      }
    }
    const textX = Math.max(xOf(bar.high ?? bar.value), xOf(bar.value)) + 5;
    parts.push(`<text x="${textX.toFixed(1)}" y="${y + BAR_HEIGHT - 3}" class="val">${esc(bar.text ?? fmt(bar.value))}</text>`);
  });
  if (panel.threshold !== undefined) {
    const x = xOf(panel.threshold.value).toFixed(1);
    parts.push(`<line x1="${x}" y1="${barsTop - 4}" x2="${x}" y2="${barsBottom + 2}" class="thr"/>`);
    parts.push(`<text x="${x}" y="${barsTop - 6}" class="thrl">${esc(panel.threshold.label)}</text>`);
  }
  return parts.join('\n');
}

/** The whole chart: a title, a subtitle and the panels in `columns` columns. */
export function barChart(title: string, subtitle: string, panels: Panel[], columns = 2): string {
  const cols = Math.max(1, Math.min(columns, panels.length));
  const rows: Panel[][] = [];
  for (let i = 0; i < panels.length; i += cols) rows.push(panels.slice(i, i + cols));
  const header = 48;
  let y = header;
  const body: string[] = [];
  for (const row of rows) {
    const h = Math.max(...row.map(panelHeight));
    row.forEach((panel, c) => body.push(renderPanel(panel, PAD + c * (PANEL_WIDTH + PAD), y)));
    y += h + PAD;
  }
  const width = PAD + cols * (PANEL_WIDTH + PAD);
  const height = y + 4;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif">`,
    '<style>',
    '.t{font-size:16px;font-weight:bold;fill:#222}.st{font-size:11px;fill:#555}.pt{font-size:12px;font-weight:bold;fill:#222}',
    '.unit{font-weight:normal;fill:#666}.label{font-size:11px;fill:#333;text-anchor:end}.val{font-size:10.5px;fill:#222}',
    '.tick{font-size:9.5px;fill:#777;text-anchor:middle}.grid{stroke:#e4e4e4;stroke-width:1}',
    '.wh{stroke:#222;stroke-width:1.1}.thr{stroke:#c00;stroke-width:1.3;stroke-dasharray:4 3}.thrl{font-size:9.5px;fill:#c00;text-anchor:middle}',
    '</style>',
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="${PAD}" y="22" class="t">${esc(title)}</text>`,
    `<text x="${PAD}" y="38" class="st">${esc(subtitle)}</text>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}
