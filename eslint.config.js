// Lint: typescript-eslint's recommended rules, without type information so `npm test` stays quick;
// the type checker (`npm run typecheck`) is the stricter gate.
//
// The import boundaries between the parts are written here, so a wrong import fails `npm test`
// (test/import-boundaries.test.ts proves each one bites):
//   node/            never imports control-plane/
//   control-plane/   never imports node/ (what both sides agree on lives in protocol/)
//   control-plane/detect/  the scanner engine: imports only itself, lib/ and protocol/ (no store, config, routes);
//                    its tests also the generic test/support.ts
//   protocol/, lib/  import neither part
//   the browser console (control-plane/console/static/) imports no server code
//   production modules never import the dev-only TypeScript loader (tsx)
// Tests that start both real parts together (integration tests) may import both; the scanner's own
// tests may not, so the engine stays usable alone.
//
// A later block's no-restricted-imports replaces an earlier one's for the files both match, so each
// block below lists every pattern that holds for its files.
import tseslint from 'typescript-eslint'

/** One `no-restricted-imports` rule from a list of [regex, message] pairs. */
function forbid(...rules) {
  return ['error', { patterns: rules.map(([regex, message]) => ({ regex, message })) }]
}

const TESTS = ['**/*.test.ts', '**/test/**']
const NO_TSX = ['^tsx(/|$)', 'tsx is a dev-only loader: start workers with lib/worker.ts, run sources with --import ./scripts/register-ts.js']
const NOT_CONTROL_PLANE = ['(^|/)control-plane/', 'the node must not depend on the control plane: put what both sides share in protocol/']
const NOT_NODE = ['(^|\\.\\./)node/', 'the control plane must not depend on the node: put what both sides share in protocol/']
const NEITHER_PART = ['(^|\\.\\./)(node|control-plane)/', 'protocol/ and lib/ belong to neither part: they import neither node/ nor control-plane/']
const DETECT = 'the scanner engine (control-plane/detect/) stands alone: it may import only its own files, lib/ and protocol/'

/**
 * For a file `depth` folders below control-plane/detect/: any relative import that climbs out of
 * detect/ into control-plane/ is refused, except into lib/ and protocol/ at the top.
 */
function detectBoundary(depth) {
  const up = '\\.\\./'.repeat(depth + 1)
  return [
    [`^${up}(?!\\.\\./)`, DETECT], // lands in control-plane/ itself
    [`^${up}\\.\\./(?!lib/|protocol/|test/support\\.js$)`, DETECT], // lands at the top, outside lib/, protocol/ and the generic test support
  ]
}

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'data/**', 'control-plane/console/static/vendor/**', '.tap/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  { files: ['cli.ts', 'demo.ts', 'healthcheck.ts'], rules: { 'no-restricted-imports': forbid(NO_TSX) } },
  { files: ['node/**/*.ts'], ignores: TESTS, rules: { 'no-restricted-imports': forbid(NO_TSX, NOT_CONTROL_PLANE) } },
  { files: ['control-plane/**/*.ts'], ignores: TESTS, rules: { 'no-restricted-imports': forbid(NO_TSX, NOT_NODE) } },
  { files: ['control-plane/detect/*.ts'], rules: { 'no-restricted-imports': forbid(NO_TSX, NOT_NODE, ...detectBoundary(0)) } },
  { files: ['control-plane/detect/*/*.ts'], rules: { 'no-restricted-imports': forbid(NO_TSX, NOT_NODE, ...detectBoundary(1)) } },
  { files: ['control-plane/detect/*/*/*.ts'], rules: { 'no-restricted-imports': forbid(NO_TSX, NOT_NODE, ...detectBoundary(2)) } },
  { files: ['protocol/**/*.ts', 'lib/**/*.ts'], ignores: TESTS, rules: { 'no-restricted-imports': forbid(NO_TSX, NEITHER_PART) } },
  { files: ['protocol/**/*.test.ts', 'lib/**/*.test.ts'], rules: { 'no-restricted-imports': forbid(NEITHER_PART) } },
  {
    files: ['control-plane/console/static/**/*.js'],
    rules: { 'no-restricted-imports': forbid(['^(?!\\./)', 'the browser console imports only its own modules (./…), never server code']) },
  },
)
