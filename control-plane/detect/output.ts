/**
 * How findings are printed: a table for a person at a terminal, a JSON array, or SARIF 2.1.0
 * for code-scanning tools. None of them carries a raw secret unless the findings do
 * (`--show-secrets`), and SARIF never does: it is uploaded to third-party services.
 */
import type { Finding } from './findings.js'
import type { Rule, Severity } from './rule.js'

/** Output formats of `leakgate scan`. */
export type OutputFormat = 'table' | 'json' | 'sarif'

/**
 * A JSON array of findings, one a line for readable diffs; each with its rule's `severity` when
 * `rules` holds the rule.
 */
export function formatJson(findings: readonly Finding[], rules: readonly Rule[] = []): string {
  if (findings.length === 0) return '[]\n'
  const severity = new Map(rules.map((r) => [r.id, r.severity]))
  const line = (f: Finding): string => {
    const s = severity.get(f.ruleId)
    const { ruleId, kind, ...rest } = f
    return JSON.stringify(s === undefined ? f : { ruleId, kind, severity: s, ...rest })
  }
  return `[\n${findings.map((f) => '  ' + line(f)).join(',\n')}\n]\n`
}

/** SARIF `level` of a severity: what code-scanning tools sort and filter on. */
const SARIF_LEVEL: Record<Severity, 'error' | 'warning' | 'note'> = { critical: 'error', high: 'error', medium: 'warning', low: 'note' }
/** GitHub code scanning's `security-severity` (0-10; 9 and above is critical, 7 high, 4 medium). */
const SECURITY_SEVERITY: Record<Severity, string> = { critical: '9.5', high: '8.0', medium: '5.5', low: '3.0' }
const SEVERITY_RANK: Record<Severity, number> = { low: 0, medium: 1, high: 2, critical: 3 }

/** One kind of secret the rules find: its rules, the highest of their severities, what it is. */
export interface KindInfo {
  kind: string
  severity: Severity
  rules: string[]
  description: string
}

/** The kinds of `rules`, sorted by name (a kind found by several rules is listed once). */
export function kindsOf(rules: readonly Rule[]): KindInfo[] {
  const byKind = new Map<string, KindInfo>()
  for (const r of rules) {
    const k = byKind.get(r.kind)
    if (k === undefined) byKind.set(r.kind, { kind: r.kind, severity: r.severity, rules: [r.id], description: r.description })
    else {
      if (!k.rules.includes(r.id)) k.rules.push(r.id)
      if (SEVERITY_RANK[r.severity] > SEVERITY_RANK[k.severity]) k.severity = r.severity
    }
  }
  return [...byKind.values()].sort((a, b) => (a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : 0))
}

/** `leakgate scan --list-kinds`: a table. */
export function formatKindsTable(rules: readonly Rule[]): string {
  const rows = kindsOf(rules).map((k) => [k.kind, k.severity, k.rules.join(', '), k.description])
  const head = ['KIND', 'SEVERITY', 'RULES', 'DESCRIPTION']
  const widths = head.map((h, i) => Math.min(60, Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length))))
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd()
  return [line(head), ...rows.map(line)].join('\n') + '\n'
}

/** `leakgate scan --list-kinds --format json`. */
export function formatKindsJson(rules: readonly Rule[]): string {
  return JSON.stringify(kindsOf(rules), null, 2) + '\n'
}

/** A plain text table. */
export function formatTable(findings: readonly Finding[]): string {
  if (findings.length === 0) return 'no secrets found\n'
  const rows = findings.map((f) => [
    f.ruleId,
    `${f.file}:${f.line}:${f.column}`,
    f.commit === undefined ? '' : f.commit.slice(0, 8) + (f.inHistoryOnly ? ' (history)' : ''),
    f.secret ?? f.preview,
    f.fingerprint.slice(0, 12),
  ])
  const head = ['RULE', 'WHERE', 'COMMIT', hasSecrets(findings) ? 'SECRET' : 'PREVIEW', 'FINGERPRINT']
  const widths = head.map((h, i) => Math.min(80, Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length))))
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()
  return [line(head), ...rows.map(line), '', `${findings.length} finding${findings.length === 1 ? '' : 's'}`].join('\n') + '\n'
}

function hasSecrets(findings: readonly Finding[]): boolean {
  return findings.some((f) => f.secret !== undefined)
}

/** SARIF 2.1.0: one run, the rules that fired, one result a finding, the fingerprint as partialFingerprints. */
export function formatSarif(findings: readonly Finding[], rules: readonly Rule[], version: string): string {
  const used = [...new Set(findings.map((f) => f.ruleId))]
  const byId = new Map(rules.map((r) => [r.id, r]))
  const sarifRules = used.map((id) => {
    const r = byId.get(id)
    const severity = r === undefined ? {} : { severity: r.severity, 'security-severity': SECURITY_SEVERITY[r.severity] }
    return {
      id, name: id, shortDescription: { text: r?.description ?? id },
      ...(r === undefined ? {} : { defaultConfiguration: { level: SARIF_LEVEL[r.severity] } }),
      properties: { kind: r?.kind ?? id, ...severity, ...(r?.tags === undefined || r.tags.length === 0 ? {} : { tags: r.tags }) },
    }
  })
  const results = findings.map((f) => ({
    ruleId: f.ruleId,
    ruleIndex: used.indexOf(f.ruleId),
    level: SARIF_LEVEL[byId.get(f.ruleId)?.severity ?? 'high'],
    message: { text: `${f.kind} found (${f.preview})${f.inHistoryOnly ? ' in history only' : ''}` },
    locations: [{
      physicalLocation: {
        artifactLocation: { uri: f.file },
        region: { startLine: f.line, startColumn: f.column },
      },
    }],
    partialFingerprints: { 'leakgate/v1': f.fingerprint },
    properties: {
      sha256: f.sha256,
      preview: f.preview,
      kind: f.kind,
      inHistoryOnly: f.inHistoryOnly,
      ...(f.commit === undefined ? {} : { commit: f.commit }),
      ...(f.branch === undefined ? {} : { branch: f.branch }),
    },
  }))
  const log = {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [{
      tool: { driver: { name: 'leakgate', version, informationUri: 'https://leakgate.dev', rules: sarifRules } },
      results,
    }],
  }
  return JSON.stringify(log, null, 2) + '\n'
}

/** The README's list of kinds: a Markdown table, one row a kind (scripts/docs-kinds.ts writes it). */
export function formatKindsMarkdown(rules: readonly Rule[]): string {
  const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ')
  const rows = kindsOf(rules).map((k) => `| \`${k.kind}\` | ${k.severity} | ${k.rules.map((r) => `\`${r}\``).join(', ')} | ${cell(k.description)} |`)
  // Folded: hundreds of rows would push the rest of the README out of sight.
  return [`<details><summary>All ${rows.length} kinds</summary>`, '', '| kind | severity | rules | what it is |', '| --- | --- | --- | --- |', ...rows, '', '</details>'].join('\n') + '\n'
}
