/**
 * CSV as spreadsheets read it (RFC 4180: comma-separated, CRLF, fields with a comma, quote or line
 * break quoted). A text cell that a spreadsheet would take for a formula (starting with = + - @, a tab
 * or a carriage return) gets a leading apostrophe, so an exported leak title such as `=HYPERLINK(…)`
 * shows as text instead of running: leak titles and sources come from scanned, untrusted places.
 */

/** One cell: numbers as they are, null as empty, text escaped against formulas and quoted when needed. */
export function csvCell(value: string | number | null): string {
  if (value === null) return ''
  if (typeof value === 'number') return String(value)
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe
}

/** One line of cells, ending in CRLF. */
export function csvLine(cells: ReadonlyArray<string | number | null>): string {
  return `${cells.map(csvCell).join(',')}\r\n`
}
