import { defineConfig } from "@playwright/test";

// Browser tests for Fila. The server is started by scripts/test.sh (fresh SQLite database,
// demo venue); this config only points Chromium at it. No `webServer` block on purpose.
const baseURL = process.env.FILA_BASE_URL ?? "http://localhost:3210";

export default defineConfig({
  testDir: "./tests",
  globalSetup: "./global-setup.ts",
  // One server is shared by every test: run them one after another.
  workers: 1,
  fullyParallel: false,
  retries: 0,
  forbidOnly: !!process.env.CI,
  timeout: 30_000,
  // Generous: the first paint of a screen waits for the (debug) wasm app to load and fetch.
  expect: { timeout: 10_000 },
  reporter: "list",
  outputDir: "test-results",
  use: {
    baseURL,
    // Debian's Chromium: this machine cannot download Playwright's own browser builds.
    launchOptions: {
      executablePath: "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
    actionTimeout: 10_000,
    navigationTimeout: 15_000,
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
  },
});
