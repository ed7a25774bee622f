// Lint: typescript-eslint's recommended rules, without type information so `npm test` stays quick;
// the type checker (`npm run typecheck`) is the stricter gate.
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'data/**', 'control-plane/console/static/vendor/**', '.tap/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  // Which part may import which. protocol/ is what node and control plane agree on: it imports neither.
  {
    files: ['protocol/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ regex: '(^|/)(node|control-plane)/', message: 'protocol/ is shared by the node and the control plane: it imports neither' }] }],
    },
  },
  // The control plane reaches the node's code only through protocol/ (its tests may start a real node).
  {
    files: ['control-plane/**/*.ts'],
    ignores: ['**/*.test.ts', '**/test/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ regex: '^(\\.\\./)+node/', message: 'the control plane imports protocol/, never node/' }] }],
    },
  },
)
