import { randomBytes } from 'node:crypto'
import { runInNewContext } from 'node:vm'
import t from 'tap'
import { collectReplaced, freeingAsRead } from './collect.js'

async function* chunksOf(buf: Buffer, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size)
}

t.test('a body read through freeingAsRead arrives whole and in order, across the collections it makes', async (t) => {
  const body = randomBytes(9 << 20) // past two collection points
  const got: Uint8Array[] = []
  for await (const chunk of freeingAsRead(chunksOf(body, 65_536))) got.push(chunk)
  t.equal(got.length, 144)
  t.ok(Buffer.concat(got).equals(body), 'the same bytes')
})

t.test('making collections available leaves no gc function to other code', async (t) => {
  for await (const _ of freeingAsRead(chunksOf(randomBytes(5 << 20), 1 << 20))) void _
  await collectReplaced()
  t.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined', 'not on this context')
  t.equal(runInNewContext('typeof gc'), 'undefined', 'not on a context made after')
})
