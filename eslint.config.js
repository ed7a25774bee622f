// Lint: typescript-eslint's recommended rules, without type information so `npm test` stays quick;
// the type checker (`npm run typecheck`) is the stricter gate.
import tseslint from 'typescript-eslint'

const NO_TSX = { regex: '^tsx(/|$)', message: 'tsx is a dev-only loader: start workers with lib/worker.ts, run sources with --import ./scripts/register-ts.js' }

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'data/**', 'control-plane/console/static/vendor/**', '.tap/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  // Production modules never import the dev-only TypeScript loader (scripts/register-ts.js preloads it;
  // lib/worker.ts reaches it only through LEAKGATE_TS_LOADER). Each block below repeats this pattern,
  // since a later block's no-restricted-imports replaces an earlier one's.
  {
    files: ['cli.ts', 'lib/**/*.ts', 'node/**/*.ts'],
    ignores: ['**/*.test.ts', '**/test/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [NO_TSX] }],
    },
  },
  // Which part may import which. protocol/ is what node and control plane agree on: it imports neither.
  {
    files: ['protocol/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [NO_TSX, { regex: '(^|/)(node|control-plane)/', message: 'protocol/ is shared by the node and the control plane: it imports neither' }] }],
    },
  },
  // The control plane reaches the node's code only through protocol/ (its tests may start a real node).
  {
    files: ['control-plane/**/*.ts'],
    ignores: ['**/*.test.ts', '**/test/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [NO_TSX, { regex: '^(\\.\\./)+node/', message: 'the control plane imports protocol/, never node/' }] }],
    },
  },
)
