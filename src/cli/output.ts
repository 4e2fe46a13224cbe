// How the admin commands print what the API answered: a boxed table for people (the
// layout OpenStack's own clients use) or the API's JSON for scripts.

export const FORMATS = ['table', 'json'] as const;
export type Format = (typeof FORMATS)[number];

type Row = Record<string, unknown>;

/** One value as table text: a job's resource as key=value pairs, null as blank. */
export function cell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (Array.isArray(value)) return value.map(cell).join(', ');
  if (typeof value === 'object') {
    return Object.entries(value)
      .map(([k, v]) => `${k}=${cell(v)}`)
      .join(', ');
  }
  // A table row must stay one line.
  return String(value).replace(/\s*\n\s*/g, ' ');
}

/** An aligned, boxed table with a header row. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const rule = `+${widths.map((w) => '-'.repeat(w + 2)).join('+')}+`;
  const line = (cells: string[]) => `| ${widths.map((w, i) => (cells[i] ?? '').padEnd(w)).join(' | ')} |`;
  return [rule, line(headers), rule, ...rows.map(line), rule].join('\n') + '\n';
}

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

/** `text` cut to at most `max` characters, the cut marked with an ellipsis. */
export function shorten(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/**
 * A list: one row per item with `columns`, or the items as a JSON array. `maxWidths` caps
 * columns whose values can be long (a job's error) in the table; JSON keeps them whole.
 */
export function printList(items: Row[], columns: readonly string[], format: Format, maxWidths: Readonly<Record<string, number>> = {}): void {
  const rows = () => items.map((item) => columns.map((c) => shorten(cell(item[c]), maxWidths[c] ?? Infinity)));
  process.stdout.write(format === 'json' ? json(items) : table([...columns], rows()));
}

/** One object: a Field/Value table of every field, or the object as JSON. */
export function printItem(item: Row, format: Format): void {
  const rows = () => Object.entries(item).map(([k, v]) => [k, cell(v)]);
  process.stdout.write(format === 'json' ? json(item) : table(['Field', 'Value'], rows()));
}
