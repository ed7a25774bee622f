/**
 * Scores findings against a corpus's labels: recall (labels found), precision (findings that
 * are labels). A label is found when any finding carries its sha256; a finding is true when
 * its sha256 is any label's. Duplicates of one secret count once either way.
 */
import type { Label } from './generate.js'

/** A finding as far as scoring needs it. */
export interface Scored {
  file: string
  sha256: string
  ruleId: string
}

/** Recall, precision and what went wrong. */
export interface Score {
  recall: number
  precision: number
  labels: number
  found: number
  findings: number
  falsePositives: Scored[]
  missed: Label[]
}

/** Scores `findings` against `labels`. */
export function score(findings: readonly Scored[], labels: readonly Label[]): Score {
  const labelled = new Set(labels.map((l) => l.sha256))
  const reported = new Set(findings.map((f) => f.sha256))
  const distinct = new Map<string, Scored>()
  for (const f of findings) distinct.set(`${f.file}\0${f.sha256}`, f)
  const falsePositives = [...distinct.values()].filter((f) => !labelled.has(f.sha256))
  const missed = labels.filter((l) => !reported.has(l.sha256))
  const uniqueLabels = new Set(labels.map((l) => l.sha256))
  const foundLabels = [...uniqueLabels].filter((s) => reported.has(s)).length
  const truePositives = distinct.size - falsePositives.length
  return {
    recall: uniqueLabels.size === 0 ? 1 : foundLabels / uniqueLabels.size,
    precision: distinct.size === 0 ? 1 : truePositives / distinct.size,
    labels: uniqueLabels.size,
    found: foundLabels,
    findings: distinct.size,
    falsePositives,
    missed,
  }
}
