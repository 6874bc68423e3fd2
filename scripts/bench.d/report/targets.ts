/** The issue's targets a section checks its figures against. */
import { table } from './figures';

export interface TargetRow {
  target: string;
  measured: string;
  /** undefined: not measured in this run. */
  met: boolean | undefined;
}

/** met only when the figure exists. */
export const verdict = (ok: boolean, value: number): boolean | undefined => (Number.isFinite(value) ? ok : undefined);

export function targetTable(rows: readonly TargetRow[]): string[] {
  if (rows.length === 0) return [];
  const met = rows.filter((r) => r.met === true).length;
  const missed = rows.filter((r) => r.met === false).length;
  const unknown = rows.length - met - missed;
  return [
    `Targets: ${met} met, ${missed} missed${unknown > 0 ? `, ${unknown} not measured` : ''}.`,
    '',
    ...table(['target', 'measured', 'verdict'], rows.map((r) => [r.target, r.measured, r.met === undefined ? 'not measured' : r.met ? 'met' : '**missed**']), false),
  ];
}
