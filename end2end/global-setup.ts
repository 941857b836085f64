// Wait until the server at FILA_BASE_URL answers before any test starts.
// scripts/test.sh already waits for /healthz; this makes a hand-started run just as safe.

const BASE_URL = process.env.FILA_BASE_URL ?? "http://localhost:3210";
const DEADLINE_MS = 60_000;

export default async function globalSetup(): Promise<void> {
  const started = Date.now();
  let last = "no answer yet";
  while (Date.now() - started < DEADLINE_MS) {
    try {
      const res = await fetch(BASE_URL, { signal: AbortSignal.timeout(2_000) });
      if (res.ok) {
        if (!process.env.FILA_E2E_OWNER_PASSWORD) {
          console.warn(
            "FILA_E2E_OWNER_PASSWORD is not set: the tests that sign in as owner@demo.fila will fail",
          );
        }
        return;
      }
      last = `HTTP ${res.status}`;
    } catch (e) {
      last = e instanceof Error ? e.message : String(e);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(
    `Fila did not answer at ${BASE_URL} within ${DEADLINE_MS / 1000} s (${last}). ` +
      "Start it as scripts/test.sh does, or set FILA_BASE_URL.",
  );
}
