import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      '**/dashboard/dist/**',
      'coverage/**',
      '.lantern/**',
      'scripts/**',
      '*.config.js',
      '.dependency-cruiser.cjs',
    ],
  },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/no-extraneous-class': 'off',
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  {
    // Plain ES-module scripts that tests run as child processes (a real SMTP server, say): outside
    // tsconfig, so linted without type information.
    files: ['**/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
  },
  {
    // Broker topics are built in one place, libs/messaging/src/topics.ts (STYLE.md "Typed events"): a
    // template with `/devices/`, `/events/patients/` or `/internal/` right after an interpolation (the
    // root) is a topic built by hand. Tests build raw ones on purpose, and so does the fuzzer.
    files: ['apps/**/*.ts', 'libs/**/*.ts', 'device-simulator/**/*.ts', 'bench/**/*.ts'],
    ignores: ['libs/messaging/src/topics.ts', '**/*.spec.ts', 'bench/src/fuzz/**'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: 'TemplateElement[value.raw=/^\\/(devices|events\\/patients|internal)\\//]',
          message: 'Build broker topics with topicsFor() from @lantern/messaging/contract, not by hand.',
        },
      ],
    },
  },
);
