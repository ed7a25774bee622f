/**
 * A real HTTP receiver of webhook deliveries for the tests, on a loopback port. It verifies each
 * delivery's signature with the JavaScript that docs/webhooks.md gives users (read from the page and
 * imported), so the documented code is the code tested. How it answers is the test's to choose.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { Teardown } from './harness.js'

/** The documented verifier: `verifyLeakgate(header, body, secret, toleranceSeconds?)`. */
export type Verify = (header: string, body: string, secret: string, toleranceSeconds?: number) => boolean

/** Loads the JavaScript block of docs/webhooks.md that defines `verifyLeakgate`. */
export async function documentedVerifier(t: Teardown): Promise<Verify> {
  const doc = readFileSync(new URL('../../docs/webhooks.md', import.meta.url), 'utf8')
  const block = /```js\n([\s\S]*?verifyLeakgate[\s\S]*?)```/.exec(doc)?.[1]
  if (block === undefined) throw new Error('docs/webhooks.md has no js block defining verifyLeakgate')
  const dir = mkdtempSync(join(tmpdir(), 'leakgate-verify-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'verify.mjs')
  writeFileSync(file, block)
  return ((await import(pathToFileURL(file).href)) as { verifyLeakgate: Verify }).verifyLeakgate
}

/** One request the receiver got. */
export interface Received {
  headers: IncomingHttpHeaders
  body: string
  /** The signature checked out with one of the secrets known then. */
  verified: boolean
  /** How it was answered. */
  answer: Answer
}

/** How to answer: a status, or `hang` (never answer; the socket is closed when the receiver closes). */
export type Answer = number | 'hang'

/** A receiver listening on 127.0.0.1. */
export interface Receiver {
  url: string
  received: Received[]
  /** The secrets signatures are checked against (any of them). */
  secrets: string[]
  /** Decides each answer (by default 200). */
  answer: (body: string, index: number) => Answer
  /** The JSON of the verified deliveries answered 2xx. */
  accepted: () => Array<Record<string, unknown>>
}

/** Starts a receiver, closed at teardown. */
export async function startReceiver(t: Teardown): Promise<Receiver> {
  const verify = await documentedVerifier(t)
  const hung = new Set<ServerResponse>()
  const receiver: Receiver = {
    url: '',
    received: [],
    secrets: [],
    answer: () => 200,
    accepted: () => receiver.received
      .filter((r) => r.verified && typeof r.answer === 'number' && r.answer < 300)
      .map((r) => JSON.parse(r.body) as Record<string, unknown>),
  }
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      const header = String(req.headers['leakgate-signature'] ?? '')
      const verified = receiver.secrets.some((s) => verify(header, body, s))
      const answer = verified ? receiver.answer(body, receiver.received.length) : 401
      receiver.received.push({ headers: req.headers, body, verified, answer })
      if (answer === 'hang') {
        hung.add(res)
        return
      }
      res.writeHead(answer).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`
  t.teardown(async () => {
    for (const res of hung) res.destroy()
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })
  return receiver
}
