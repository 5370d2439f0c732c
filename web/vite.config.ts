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
  },
});
