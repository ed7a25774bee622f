// The overview's source colours (static/assets/charts.js): a source keeps its colour whatever its rank
// or the other sources in view, and no source is drawn in a risk's colour.
import t from 'tap'
// @ts-expect-error: plain browser JavaScript, no type declarations
import { RISK_COLOR, sourceColor } from './static/assets/charts.js'

const color = sourceColor as (source: string) => string
const sources = ['github', 'gitlab', 'git', 'dir', 'manual', 'gist', 'paste', 'postman', 'npm', 'dockerhub', 'pypi', 'slack-export', 'jira']

t.test('a source has one colour, the same each time it is asked, whatever else is shown', async (t) => {
  const first = new Map(sources.map((s) => [s, color(s)]))
  const reversed = new Map([...sources].reverse().map((s) => [s, color(s)]))
  for (const s of sources) t.equal(reversed.get(s), first.get(s), `${s}: same colour in another order`)
})

t.test("no source is drawn in a risk's colour", async (t) => {
  const risky = new Set(Object.values(RISK_COLOR as Record<string, string>).map((c) => c.toLowerCase()))
  for (const s of sources) t.notOk(risky.has(color(s).toLowerCase()), `${s}: ${color(s)} is not a risk colour`)
})

t.test("the sources Leakgate names itself each have a colour of their own", async (t) => {
  const own = ['github', 'gitlab', 'git', 'dir', 'manual', 'gist', 'paste', 'postman']
  t.equal(new Set(own.map(color)).size, own.length)
})
