// Lint: typescript-eslint's recommended rules everywhere, exhaustive switches in the sources, and the
// purity fence around gdoi-wire (no I/O, no logger, no global randomness, byte access only via Reader/Writer).
import tseslint from 'typescript-eslint'

const IO_MODULES = ['node:dgram', 'node:net', 'node:fs', 'node:fs/promises', 'node:os', 'node:timers', 'node:child_process', 'pino']

export default tseslint.config(
  { ignores: ['**/dist/**', '**/build/**', '**/node_modules/**', '**/bin/**', '**/native/**', '.tap/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['packages/*/src/**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: { '@typescript-eslint/switch-exhaustiveness-check': 'error' },
  },
  {
    files: ['packages/gdoi-wire/src/**/*.ts'],
    ignores: ['packages/gdoi-wire/src/cli/**'],
    rules: {
      'no-restricted-imports': ['error', { paths: IO_MODULES.map((name) => ({ name, message: 'gdoi-wire is pure: I/O belongs in the daemons or src/cli' })) }],
      'no-restricted-properties': [
        'error',
        { object: 'Math', property: 'random', message: 'randomness is an input (ctx.rng)' },
        ...['readUInt8', 'readUInt16BE', 'readUInt32BE', 'writeUInt8', 'writeUInt16BE', 'writeUInt32BE'].map((property) => ({
          property,
          message: 'byte access goes through Reader/Writer (DecodeError, never RangeError)',
        })),
      ],
      'no-restricted-globals': ['error', { name: 'process', message: 'gdoi-wire is pure' }],
    },
  },
)
