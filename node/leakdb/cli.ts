/**
 * `leakgate index build --out FILE`: builds a snapshot from standard input, one entry a line:
 * a SHA-256 hex (action block, leak id 1), or `hex,action,leakId`. Blank lines and `#` comments skipped.
 */
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { MAX_LEAK_ID, type LeakAction } from '../../protocol/leak.js'
import { encodeSnapshot, type SnapshotEntry } from '../../protocol/snapshot.js'
import { isSha256Hex } from '../../protocol/token-hash.js'
import { writeFileAtomic } from './write-file-atomic.js'

const USAGE = `usage: leakgate index build --out FILE [--revision N] < hashes.txt

Builds a leak index snapshot for \`leakgate node --index FILE\`.
Standard input, one entry a line:
  <sha256 hex>                     action block, leak id 1
  <sha256 hex>,<block|monitor>,<leak id>
Blank lines and lines starting with # are skipped. Raw tokens are refused: hash them first
(for example: printf %s "$TOKEN" | sha256sum).

options:
  --out FILE       where to write the snapshot (required)
  --revision N     the snapshot's revision (default 1)
  -h, --help       this text`

/** Parses one input line; throws an Error naming the line on bad input. */
export function parseIndexLine(line: string, lineNo: number): SnapshotEntry | undefined {
  const text = line.trim()
  if (text === '' || text.startsWith('#')) return undefined
  const [hash = '', action = 'block', leakId = '1', ...extra] = text.split(',').map((s) => s.trim())
  const sha256 = hash.toLowerCase()
  if (!isSha256Hex(sha256)) throw new Error(`line ${lineNo}: not a SHA-256 hex (64 hex characters)`)
  if (action !== 'block' && action !== 'monitor') throw new Error(`line ${lineNo}: action must be block or monitor`)
  const id = Number(leakId)
  if (!/^\d+$/.test(leakId) || id < 1 || id > MAX_LEAK_ID) throw new Error(`line ${lineNo}: leak id must be an integer from 1 to ${MAX_LEAK_ID}`)
  if (extra.length > 0) throw new Error(`line ${lineNo}: expected at most 3 fields: hex,action,leakId`)
  return { sha256, action: action as LeakAction, leakId: id }
}

export async function main(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv
  if (sub === undefined || sub === '--help' || sub === '-h') {
    console.log(USAGE)
    return sub === undefined ? 2 : 0
  }
  if (sub !== 'build') {
    console.error(`leakgate index: unknown subcommand "${sub}"\n\n${USAGE}`)
    return 2
  }
  let values: { out?: string | undefined; revision?: string | undefined; help?: boolean | undefined }
  try {
    ;({ values } = parseArgs({ args: rest, options: { out: { type: 'string' }, revision: { type: 'string' }, help: { type: 'boolean', short: 'h' } } }))
  } catch (err) {
    console.error(`leakgate index build: ${(err as Error).message}\n\n${USAGE}`)
    return 2
  }
  if (values.help === true) {
    console.log(USAGE)
    return 0
  }
  if (values.out === undefined) {
    console.error(`leakgate index build: --out FILE is required\n\n${USAGE}`)
    return 2
  }
  const revision = values.revision === undefined ? 1 : Number(values.revision)
  if (!Number.isSafeInteger(revision) || revision < 0) {
    console.error('leakgate index build: --revision must be a non-negative integer')
    return 2
  }
  const entries: SnapshotEntry[] = []
  const seen = new Set<string>()
  let lineNo = 0
  try {
    for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
      lineNo++
      const entry = parseIndexLine(line, lineNo)
      if (entry === undefined) continue
      const hex = entry.sha256 as string
      if (seen.has(hex)) throw new Error(`line ${lineNo}: hash repeated (already given on an earlier line)`)
      seen.add(hex)
      entries.push(entry)
    }
  } catch (err) {
    console.error(`leakgate index build: ${(err as Error).message}; nothing written`)
    return 2
  }
  const snapshot = encodeSnapshot(entries, revision)
  await writeFileAtomic(values.out, snapshot)
  console.error(`leakgate index build: wrote ${entries.length} entries at revision ${revision} to ${values.out} (${snapshot.length} bytes)`)
  return 0
}
