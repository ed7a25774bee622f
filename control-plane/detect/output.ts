/**
 * How findings are printed: a table for a person at a terminal, a JSON array, or SARIF 2.1.0
 * for code-scanning tools. None of them carries a raw secret unless the findings do
 * (`--show-secrets`), and SARIF never does: it is uploaded to third-party services.
 */
import type { Finding } from './findings.js'
import type { Rule } from './rule.js'

/** Output formats of `leakgate scan`. */
export type OutputFormat = 'table' | 'json' | 'sarif'

/** A JSON array of findings, one a line for readable diffs. */
export function formatJson(findings: readonly Finding[]): string {
  if (findings.length === 0) return '[]\n'
  return `[\n${findings.map((f) => '  ' + JSON.stringify(f)).join(',\n')}\n]\n`
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
    return { id, name: id, shortDescription: { text: r?.description ?? id }, properties: { kind: r?.kind ?? id, ...(r?.tags === undefined || r.tags.length === 0 ? {} : { tags: r.tags }) } }
  })
  const results = findings.map((f) => ({
    ruleId: f.ruleId,
    ruleIndex: used.indexOf(f.ruleId),
    level: 'error',
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
