import { defineConfig } from "@playwright/test";

// The server is started by the test runner script (.ci/test) on a freshly seeded
// database; this file only says where it is and which browser to drive.
const baseURL = process.env.STACKBILL_E2E_URL ?? "http://127.0.0.1:3000";

export default defineConfig({
  testDir: "./tests",
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [["list"]],
  outputDir: "test-results",
  // The journeys that change the demo's data run after the pages that check its seeded
  // figures.
  projects: [
    { name: "pages", testMatch: /sign-in\.spec\.ts/ },
    { name: "portal", testMatch: /portal\.spec\.ts/, dependencies: ["pages"] },
    { name: "console", testMatch: /console\.spec\.ts/, dependencies: ["pages"] },
    { name: "api", testMatch: /api\.spec\.ts/, dependencies: ["pages"] },
  ],
  use: {
    baseURL,
    screenshot: "only-on-failure",
    trace: "retain-on-failure",
    launchOptions: {
      // Debian's Chromium; Playwright never downloads a browser here.
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
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
  },
});
