import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    projects: [
      'packages/*/vitest.config.ts',
      'packages/store-redis/vitest.ioredis6.config.ts',
      'apps/*/vitest.config.ts',
      'test/vitest.config.ts',
    ],
    reporters: ['default', ['json', { outputFile: 'reports/vitest.json' }]],
  },
})
