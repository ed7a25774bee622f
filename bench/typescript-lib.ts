/**
 * The texts the scanner benches read: TypeScript's lib/ (its .js and .d.ts files, about 19 MB of real
 * JavaScript and declarations), held in memory.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** Each file's path and text, and their size in UTF-8 bytes. */
export function typescriptLibTexts(): { texts: Array<{ path: string; text: string }>; bytes: number } {
  const lib = fileURLToPath(new URL('../node_modules/typescript/lib/', import.meta.url))
  const texts = readdirSync(lib)
    .filter((f) => f.endsWith('.js') || f.endsWith('.d.ts'))
    .map((f) => join(lib, f))
    .filter((p) => statSync(p).isFile())
    .map((p) => ({ path: p, text: readFileSync(p, 'utf8') }))
  return { texts, bytes: texts.reduce((n, t) => n + Buffer.byteLength(t.text), 0) }
}
