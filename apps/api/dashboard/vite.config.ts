import { defineConfig } from 'vite';

// No Node imports: this file is type-checked with the client's tsconfig (DOM, no Node types).
const here = (path: string): string => decodeURIComponent(new URL(path, import.meta.url).pathname);

/** Builds the clinician dashboard and patient view into dist/dashboard, served by apps/api at `/`. */
export default defineConfig({
  root: here('.'),
  base: '/',
  resolve: {
    // The client shares the pure domain catalogs and event types with the server (no Node deps).
    alias: { '@lantern/domain': here('../../../libs/domain/src/index.ts') },
  },
  build: {
    outDir: here('../../../dist/dashboard'),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    chunkSizeWarningLimit: 200,
    rollupOptions: {
      // The service worker is an entry of its own at /sw.js, unhashed: its URL is its identity, and
      // at the root its scope covers the whole app.
      input: { index: here('index.html'), sw: here('src/service-worker.ts') },
      output: { entryFileNames: (chunk) => (chunk.name === 'sw' ? 'sw.js' : 'assets/[name]-[hash].js') },
    },
  },
  server: {
    // `npx vite apps/api/dashboard` during development, with the api on :3000.
    proxy: { '/api': 'http://127.0.0.1:3000', '/socket.io': { target: 'ws://127.0.0.1:3000', ws: true } },
  },
});
