import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // The fleet tests start up to 8 processes and time the kill switch: one test file at a time, so they do not
    // compete with each other for the CPU (and their figures mean something).
    fileParallelism: false,
  },
});
