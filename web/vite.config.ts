import { defineConfig } from 'vitest/config';
import react from '@vitejs/plugin-react';

// `npm run dev` serves the app with hot reload and sends the API to a running `dumplens serve`.
export default defineConfig({
  plugins: [react()],
  server: {
    proxy: {
      '/api': process.env.DUMPLENS_URL ?? 'http://127.0.0.1:8432',
      '/healthz': process.env.DUMPLENS_URL ?? 'http://127.0.0.1:8432',
    },
  },
  build: {
    chunkSizeWarningLimit: 1500,
  },
  test: {
    environment: 'jsdom',
    globals: true,
    include: ['src/**/*.test.{ts,tsx}'],
    setupFiles: ['src/test-setup.ts'],
  },
});
