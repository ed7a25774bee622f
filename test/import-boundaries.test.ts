/**
 * The import boundaries between the parts (eslint.config.js) hold: each forbidden import fails the lint
 * that `npm test` runs, and the imports each part is meant to make pass. Linted as text under a path in
 * each part, with the project's own configuration.
 */
import { fileURLToPath } from 'node:url'
import { ESLint } from 'eslint'
import t from 'tap'

const cwd = fileURLToPath(new URL('..', import.meta.url))
const eslint = new ESLint({ cwd })

/** The restricted-import messages lint gives `source` as if it were the file at `path`. */
async function restricted(path: string, source: string): Promise<string[]> {
  const [result] = await eslint.lintText(`${source}\nexport {}\n`, { filePath: `${cwd}${path}` })
  return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message)
}

const cases: Array<{ file: string; source: string; allowed: boolean }> = [
  // node/ never imports control-plane/
  { file: 'node/x.ts', source: "import { buildControlPlane } from '../control-plane/app.js'", allowed: false },
  { file: 'node/leakdb/x.ts', source: "import { Store } from '../../control-plane/store/store.js'", allowed: false },
  { file: 'node/x.ts', source: "import { sha256Hex } from '../protocol/token-hash.js'", allowed: true },
  // control-plane/ never imports node/
  { file: 'control-plane/x.ts', source: "import { LeakIndex } from '../node/leakdb/index.js'", allowed: false },
  { file: 'control-plane/routes/x.ts', source: "import { buildNode } from '../../node/app.js'", allowed: false },
  { file: 'control-plane/routes/x.ts', source: "import { encodeSnapshot } from '../../protocol/snapshot.js'", allowed: true },
  // the scanner engine imports only itself, lib/ and protocol/
  { file: 'control-plane/detect/x.ts', source: "import { Store } from '../store/store.js'", allowed: false },
  { file: 'control-plane/detect/x.ts', source: "import { loadControlPlaneConfig } from '../config.js'", allowed: false },
  { file: 'control-plane/detect/sources/x.ts', source: "import leaks from '../../routes/leaks.js'", allowed: false },
  { file: 'control-plane/detect/detectors/x.ts', source: "import { sync } from '../../sync.js'", allowed: false },
  { file: 'control-plane/detect/x.ts', source: "import { buildNode } from '../../node/app.js'", allowed: false },
  { file: 'control-plane/detect/sources/x.ts', source: "import { scanText } from '../scanner.js'", allowed: true },
  { file: 'control-plane/detect/x.ts', source: "import { sha256Hex } from '../../protocol/token-hash.js'", allowed: true },
  { file: 'control-plane/detect/sources/x.ts', source: "import { SourceError } from '../../../lib/errors.js'", allowed: true },
  // the scanner's own tests are held to the same boundary (the generic test support aside)
  { file: 'control-plane/detect/test/helpers.ts', source: "import { tempDir } from '../../../test/support.js'", allowed: true },
  { file: 'control-plane/detect/test/helpers.ts', source: "import { startPlane } from '../../test/harness.js'", allowed: false },
  { file: 'control-plane/detect/test/x.test.ts', source: "import { Store } from '../../store/store.js'", allowed: false },
  // protocol/ and lib/ import neither part
  { file: 'protocol/x.ts', source: "import { LeakIndex } from '../node/leakdb/index.js'", allowed: false },
  { file: 'protocol/x.ts', source: "import { Store } from '../control-plane/store/store.js'", allowed: false },
  { file: 'lib/x.ts', source: "import { buildNode } from '../node/app.js'", allowed: false },
  { file: 'lib/x.ts', source: "import { leakgateVersion } from './version.js'", allowed: true },
  // production modules never import the dev-only loader
  { file: 'node/x.ts', source: "import { register } from 'tsx/esm/api'", allowed: false },
  { file: 'lib/x.ts', source: "import 'tsx'", allowed: false },
  { file: 'control-plane/routes/x.ts', source: "import { register } from 'tsx/esm/api'", allowed: false },
  { file: 'cli.ts', source: "import 'tsx'", allowed: false },
  // the browser console imports only its own modules
  { file: 'control-plane/console/static/assets/x.js', source: "import { Store } from '../../../store/store.js'", allowed: false },
  { file: 'control-plane/console/static/assets/x.js', source: "import { h } from './dom.js'", allowed: true },
]

for (const c of cases) {
  t.test(`${c.file}: ${c.source} is ${c.allowed ? 'allowed' : 'refused'}`, async (t) => {
    const messages = await restricted(c.file, c.source)
    if (c.allowed) t.same(messages, [])
    else t.ok(messages.length > 0, 'refused by a restricted-import rule')
  })
}
