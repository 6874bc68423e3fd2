// ESLint 9 flat config: typescript-eslint's type-aware recommended rules over src, test and
// scripts (all in tsconfig.test.json), zero warnings allowed (`npm run lint`).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: {
        project: './tsconfig.test.json',
        tsconfigRootDir: import.meta.dirname,
      },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // The reason for the lint: a promise nobody awaits or catches, or one handed to a
      // callback that ignores it (an event handler, forEach), loses its rejection.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      // The daemon requires ssh2-sftp-client lazily (about 14 MB that local-only hosts never load).
      '@typescript-eslint/no-require-imports': ['error', { allow: ['^ssh2-sftp-client$'] }],
      // Input checks reject control characters on purpose, and name them in their regexes.
      'no-control-regex': 'off',
      // `const { secret: _drop, ...rest } = ...` is how the code drops a property.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', ignoreRestSiblings: true }],
    },
  },
  {
    files: ['**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
  },
);
