/// <reference types="vitest/config" />
import { defineConfig } from 'vite';

// No React plugin: esbuild's automatic JSX runtime compiles the TSX and keeps
// the dependency tree small (the output is identical to @vitejs/plugin-react's).
// The build must be reproducible: same sources, byte-identical dist/ (CI diffs it).
export default defineConfig({
  esbuild: { jsx: 'automatic', legalComments: 'none' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    modulePreload: { polyfill: false },
    reportCompressedSize: true,
  },
  server: {
    // `npm run dev` proxies the API to a running ludeng server (LUDENG_DEV_API,
    // default http://127.0.0.1:8080).
    proxy: {
      '/api': { target: process.env.LUDENG_DEV_API ?? 'http://127.0.0.1:8080', changeOrigin: false },
    },
  },
  test: {
    environment: 'node',
    include: ['src/**/*.test.ts'],
    // `vitest run --coverage` (.ci/web.sh): every source file counts, tested
    // or not. The thresholds are the floors CI enforces — the figures of
    // 2026-12-05, truncated; raise them with new tests, never lower them.
    coverage: {
      provider: 'v8',
      include: ['src/**/*.{ts,tsx}'],
      exclude: ['src/**/*.test.ts'],
      reporter: ['text-summary', 'json-summary'],
      reportsDirectory: 'coverage',
      thresholds: { statements: 30, branches: 85, functions: 54, lines: 30 },
    },
  },
});
