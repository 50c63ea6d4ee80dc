/**
 * CSV cells that a spreadsheet cannot run (CSV/formula injection, OWASP "CSV Injection"): text
 * starting with `=`, `+`, `-`, `@`, a tab or a carriage return is read by Excel, LibreOffice and
 * Google Sheets as a formula (`=HYPERLINK(…)`, `-2+3+cmd|' /C calc'!A0`, `@SUM(…)`), so such a
 * cell is prefixed with a single quote, which they show as text. Every text cell of a file goes
 * through here, not a list of "user" columns: what looks like ours (an error message) may quote
 * what a user sent.
 *
 * One exception, by choice: a phone in E.164 (`+` then up to 15 digits) is left as it is. Made of
 * a sign and digits only, it can only ever be the number it spells (a spreadsheet shows
 * 14155550123; no function, reference or DDE call can be written with those characters), and a
 * program reading the file gets a valid phone rather than `'+14155550123`. Anything else in the
 * phone column is quoted like any other cell.
 */
const FORMULA_START = /^[=+\-@\t\r]/;
const E164 = /^\+[1-9]\d{1,14}$/;

export function inertCell(value: string, column?: string | number): string {
  if (!FORMULA_START.test(value)) return value;
  if (column === 'phone' && E164.test(value)) return value;
  return `'${value}`;
}
