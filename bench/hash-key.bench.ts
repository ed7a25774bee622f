/**
 * What the hash key costs on the node's hot path: hashing one credential plain (SHA-256) and keyed
 * (HMAC-SHA256 of the SHA-256), and a whole index check (LRU off, so every check hashes) with an index
 * of plain hashes and one of keyed hashes, in one process, alternated A B A B.
 *
 *   node --import ./scripts/register-ts.js bench/hash-key.bench.ts
 *
 * Credentials: random 40-character tokens (the shape of a GitHub token), made from a seeded source;
 * most checks are clean credentials, which stop at the bloom filter, as in production.
 */
import { encodeSnapshot } from '../protocol/snapshot.js'
import { keyedHash, keyedTokenBase64, sha256Base64, sha256Hex } from '../protocol/token-hash.js'
import { LeakIndex } from '../node/leakdb/index.js'
import { Rng } from '../control-plane/detect/corpus/random.js'
import { upperMedian } from './stats.js'

const ROUNDS = 41
const BATCH = 20_000
const rng = new Rng(0x62656e63)
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'
const credentials = Array.from({ length: 4096 }, () => `ghp_${rng.chars(36, ALNUM)}`)
const key = rng.bytes(32)

const leaked = Array.from({ length: 100_000 }, (_, i) => `leaked-${i}-${rng.chars(20, ALNUM)}`)
const entries = (hash: (t: string) => string) => leaked.map((t, i) => ({ sha256: hash(t), action: 'block' as const, leakId: i + 1 }))
const plainIndex = LeakIndex.fromSnapshot(encodeSnapshot(entries(sha256Hex), 1), { cacheSize: 0 })
const keyedIndex = LeakIndex.fromSnapshot(encodeSnapshot(entries((t) => keyedHash(key, sha256Hex(t))), 1), { cacheSize: 0, hashKey: key })
if (keyedIndex.check(leaked[7]!) === undefined || plainIndex.check(leaked[7]!) === undefined) throw new Error('the indexes do not find a leaked token')

let sink = 0

/** ns per call of `fn` over the credentials, one batch. */
function time(fn: (c: string) => unknown): number {
  const start = process.hrtime.bigint()
  for (let i = 0; i < BATCH; i++) {
    if (fn(credentials[i & 4095]!) !== undefined) sink++
  }
  return Number(process.hrtime.bigint() - start) / BATCH
}

function compare(name: string, a: (c: string) => unknown, b: (c: string) => unknown): void {
  const as: number[] = []
  const bs: number[] = []
  for (let i = 0; i < 3; i++) { time(a); time(b) } // warm-up
  for (let r = 0; r < ROUNDS; r++) {
    as.push(time(a))
    bs.push(time(b))
  }
  const ma = upperMedian(as)
  const mb = upperMedian(bs)
  console.log(`| ${name} | ${(ma / 1000).toFixed(2)} µs | ${(mb / 1000).toFixed(2)} µs | +${((mb - ma) / 1000).toFixed(2)} µs | ×${(mb / ma).toFixed(2)} |`)
}

console.log(`Node ${process.version}, ${ROUNDS} alternated rounds of ${BATCH} calls, medians\n`)
console.log('| per credential | plain | keyed | difference | ratio |')
console.log('| --- | --- | --- | --- | --- |')
compare('hash only (base64, as the index reads it)', (c) => sha256Base64(c), (c) => keyedTokenBase64(key, c))
compare('index check, LRU off (100 000 leaked hashes)', (c) => plainIndex.check(c), (c) => keyedIndex.check(c))
if (sink < 0) console.log(sink)
