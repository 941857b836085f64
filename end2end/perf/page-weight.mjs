// Phone page weight and time to interactive (issue 5), against a running Fila server.
//
//   FILA_BASE_URL=http://127.0.0.1:3290 node end2end/perf/page-weight.mjs
//   (PERF_RUNS=n runs per page and condition, default 3; PERF_SMOKE=1: see SMOKE below)
//
// scripts/page-weight.sh builds a release, starts a server with a fresh database and runs
// this. Debian's Chromium (/usr/bin/chromium), driven by Playwright over CDP.
//
// For the join page (/v/<venue>) and a real ticket page (/t/<token>, from a join through the
// REST API), each in a fresh browser context (cold cache, nothing stored):
// - bytes transferred per resource type, as Chromium's Network.loadingFinished
//   `encodedDataLength` reports them (compressed as served, response headers included), and
//   the decoded size;
// - time to interactive, under three conditions: no throttling (loopback), Chrome DevTools'
//   "Slow 4G" preset, and that preset with a 4x CPU slowdown (what Lighthouse's
//   mobileSlow4G pairs with it).
//
// "Interactive" is measured, not guessed: an init script waits for the first contentful paint
// (nobody taps what is not drawn) and for the page's main button to be enabled, clicks it in
// the page, and records when the click has its effect.
//   join page:   "Join the queue" (data-testid=join-submit), clicked with the name empty.
//                Effect: the "Please tell us your name." error (join-error) once the app runs;
//                before that the form is the browser's own, which refuses the empty `required`
//                field itself (an `invalid` event; nothing is posted).
//   ticket page: "Cancel my ticket" (cancel-ticket). Effect: the confirmation (confirm-cancel)
//                is visible. It is a <details>, so it opens before the app runs too.
// TTI = that effect's time, from navigation start (performance.now()). The click is a
// synthetic one dispatched in the page (element.click()), so the figure is the app's, not
// touch-input latency. Both forms post to the server without the app (server/src/http/
// forms.rs), so clicking through works from the first paint; see BENCHMARKS for what each
// path costs. Printed besides TTI: HTML received, first contentful paint, wasm downloaded, wasm
// instantiated (WebAssembly.instantiate* resolved), the button enabled, and "live": the app
// has hydrated (<html data-hydrated>), from when the ticket follows the queue by itself.

import { chromium } from "@playwright/test";

const BASE = (process.env.FILA_BASE_URL ?? "http://127.0.0.1:3290").replace(/\/$/, "");
const VENUE = process.env.FILA_VENUE ?? "demo";
const RUNS = Math.max(1, Number(process.env.PERF_RUNS ?? 3));
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
// Targets from issue 5.
const TARGET_TICKET_BYTES = 350 * 1000;
const TARGET_TTI_MS = 2000;

// Chrome DevTools' "Slow 4G" preset (devtools-frontend, front_end/core/sdk/NetworkManager.ts,
// `Slow4GConditions`, called "Fast 3G" before May 2024): ~1.6 Mbps down and 0.75 Mbps up,
// each times 0.9, and 150 ms RTT times 3.75 = 562.5 ms added to every request.
// The same numbers as Lighthouse's `mobileSlow4G` (core/config/constants.js: requestLatencyMs
// 150 * 3.75, downloadThroughputKbps 1.6 * 1024 * 0.9 (in KiB: 2.4 % faster than
// DevTools'), uploadThroughputKbps 750 * 0.9, cpuSlowdownMultiplier 4).
const SLOW_4G = {
  offline: false,
  latency: 150 * 3.75,
  downloadThroughput: ((1.6 * 1000 * 1000) / 8) * 0.9, // bytes/s: 180,000
  uploadThroughput: ((750 * 1000) / 8) * 0.9, // bytes/s: 84,375
};
// PERF_SMOKE=1 (scripts/test.sh, against its debug build): every condition's code path, but
// nothing throttled, and a check at the end that each page was measured whole. It keeps the
// harness from rotting; its figures are not measurements.
const SMOKE = process.env.PERF_SMOKE === "1";
const CONDITIONS = [
  { name: "no throttling (loopback)", network: null, cpu: 1 },
  { name: "Slow 4G", network: SLOW_4G, cpu: 1 },
  { name: "Slow 4G + 4x CPU slowdown", network: SLOW_4G, cpu: 4 },
  // A phone that has been here before: the same context visits the page once (unthrottled),
  // then the measured visit reuses its HTTP cache (the hashed /pkg files are immutable).
  { name: "Slow 4G, repeat visit", network: SLOW_4G, cpu: 1, repeat: true },
].map((c) => (SMOKE ? { ...c, network: null, cpu: 1 } : c));

// What "interactive" means on each page (data-testid values; see the top of this file).
const PAGES = {
  join: { ready: "join-submit", effect: "join-error", invalidCounts: true },
  ticket: { ready: "cancel-ticket", effect: "confirm-cancel", invalidCounts: false },
};

// Runs in the page before any of its scripts.
function probe(spec) {
  const perf = (window.__filaPerf = {});
  const now = () => performance.now();
  for (const name of ["instantiateStreaming", "instantiate"]) {
    const orig = WebAssembly[name];
    if (!orig) continue;
    WebAssembly[name] = function (...args) {
      return orig.apply(this, args).then((r) => {
        perf.wasmInstantiated ??= now();
        return r;
      });
    };
  }
  let painted = false;
  new PerformanceObserver((list) => {
    if (list.getEntriesByName("first-contentful-paint").length) {
      painted = true;
      check();
    }
  }).observe({ type: "paint", buffered: true });
  if (spec.invalidCounts) {
    // `invalid` does not bubble: listen in the capture phase.
    document.addEventListener(
      "invalid",
      () => {
        if (perf.enabled !== undefined) perf.effect ??= now();
      },
      true,
    );
  }
  const visible = (el) => (el.checkVisibility ? el.checkVisibility() : el.offsetParent !== null);
  function check() {
    if (perf.hydrated === undefined && document.documentElement.hasAttribute("data-hydrated")) {
      perf.hydrated = now();
    }
    if (perf.enabled === undefined && painted) {
      const b = document.querySelector(`[data-testid="${spec.ready}"]`);
      if (b && !b.disabled) {
        perf.enabled = now();
        b.click();
      }
    }
    if (perf.enabled !== undefined && perf.effect === undefined) {
      const e = document.querySelector(`[data-testid="${spec.effect}"]`);
      if (e && visible(e)) perf.effect = now();
    }
    return perf.effect !== undefined && perf.hydrated !== undefined;
  }
  const observer = new MutationObserver(() => {
    if (check()) observer.disconnect();
  });
  observer.observe(document, { subtree: true, childList: true, attributes: true });
}

function kind(r) {
  const url = new URL(r.url);
  if (r.type === "Document") return "HTML";
  if (url.pathname.endsWith(".wasm") || r.mime === "application/wasm") return "WASM";
  if (r.type === "Script" || url.pathname.endsWith(".js")) return "JS";
  if (r.type === "Stylesheet" || url.pathname.endsWith(".css")) return "CSS";
  if (url.pathname.startsWith("/api/")) return "API (JSON)";
  if (r.type === "Image" || /\.(svg|png|ico|webp)$/.test(url.pathname)) return "image/icon";
  return r.type ?? "other";
}

async function measure(browser, page, url, cond, warmUrl) {
  const context = await browser.newContext({
    viewport: { width: 360, height: 740 },
    isMobile: true,
    hasTouch: true,
    deviceScaleFactor: 2,
  });
  await context.addInitScript(probe, PAGES[page]);
  const tab = await context.newPage();
  const cdp = await context.newCDPSession(tab);
  const requests = new Map();
  cdp.on("Network.requestWillBeSent", (e) => {
    if (e.request.url.startsWith("data:")) return;
    requests.set(e.requestId, { url: e.request.url, type: e.type, decoded: 0 });
  });
  cdp.on("Network.webSocketCreated", (e) => {
    requests.set(e.requestId, { url: e.url, type: "WebSocket", decoded: 0, ws: true });
  });
  cdp.on("Network.webSocketHandshakeResponseReceived", (e) => {
    const r = requests.get(e.requestId);
    if (r) r.status = e.response.status;
  });
  cdp.on("Network.responseReceived", (e) => {
    const r = requests.get(e.requestId);
    if (!r) return;
    const h = Object.fromEntries(
      Object.entries(e.response.headers).map(([k, v]) => [k.toLowerCase(), v]),
    );
    Object.assign(r, {
      type: e.type,
      status: e.response.status,
      mime: e.response.mimeType,
      encoding: h["content-encoding"] ?? "identity",
      cache: h["cache-control"] ?? "(none)",
      etag: h["etag"],
      lastModified: h["last-modified"],
      fromCache: e.response.fromDiskCache || e.response.fromPrefetchCache,
    });
  });
  cdp.on("Network.dataReceived", (e) => {
    const r = requests.get(e.requestId);
    if (r) r.decoded += e.dataLength;
  });
  cdp.on("Network.loadingFinished", (e) => {
    const r = requests.get(e.requestId);
    if (r) r.transferred = e.encodedDataLength;
  });
  await cdp.send("Network.enable");
  await cdp.send("Network.setCacheDisabled", { cacheDisabled: false });
  if (cond.repeat) {
    await tab.goto(warmUrl, { waitUntil: "commit", timeout: 60_000 });
    await tab.waitForFunction(() => window.__filaPerf?.hydrated !== undefined, null, {
      timeout: 60_000,
      polling: 50,
    });
    await tab.waitForTimeout(500);
    requests.clear();
  }
  if (cond.network) await cdp.send("Network.emulateNetworkConditions", cond.network);
  if (cond.cpu > 1) await cdp.send("Emulation.setCPUThrottlingRate", { rate: cond.cpu });

  await tab.goto(url, { waitUntil: "commit", timeout: 60_000 });
  await tab.waitForFunction(
    () => window.__filaPerf?.effect !== undefined && window.__filaPerf?.hydrated !== undefined,
    null,
    { timeout: 60_000, polling: 50 },
  );
  // Let whatever the page still fetches after hydration finish (the live socket's handshake,
  // a favicon), so the byte count is the whole first visit.
  await tab.waitForTimeout(cond.network ? 2500 : 500);
  const t = await tab.evaluate(() => {
    const nav = performance.getEntriesByType("navigation")[0];
    const fcp = performance.getEntriesByName("first-contentful-paint")[0];
    const wasm = performance
      .getEntriesByType("resource")
      .find((r) => r.name.endsWith(".wasm"));
    return {
      ...window.__filaPerf,
      html: nav?.responseEnd,
      fcp: fcp?.startTime,
      wasmLoaded: wasm?.responseEnd,
    };
  });
  await context.close();
  return { timings: t, requests: [...requests.values()] };
}

async function newTicketUrl() {
  const venue = await (await fetch(`${BASE}/api/v1/venues/${VENUE}`)).json();
  const queue = venue.queues?.find((q) => q.status === "open");
  if (!queue) throw new Error(`venue ${VENUE} has no open queue`);
  const res = await fetch(`${BASE}/api/v1/venues/${VENUE}/queues/${queue.slug}/tickets`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: "Page weight", party_size: 2 }),
  });
  if (res.status !== 201) throw new Error(`join: HTTP ${res.status}: ${await res.text()}`);
  const t = await res.json();
  const location = res.headers.get("location");
  return location?.startsWith("/t/") ? `${BASE}${location}` : `${BASE}/t/${t.token}`;
}

const kb = (b) => (b / 1000).toFixed(1);
const median = (v) => {
  const s = [...v].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const ms = (v) => (v === undefined ? "-" : Math.round(v).toString());
const met = (ok) => (ok ? "met" : "NOT met");

async function main() {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const version = browser.version();
  const results = {}; // page -> condition -> [run]
  try {
    for (const page of Object.keys(PAGES)) {
      results[page] = {};
      for (const cond of CONDITIONS) {
        results[page][cond.name] = [];
        for (let i = 0; i < RUNS; i++) {
          const next = async () => (page === "join" ? `${BASE}/v/${VENUE}` : await newTicketUrl());
          const url = await next();
          const warm = cond.repeat ? await next() : undefined;
          results[page][cond.name].push(await measure(browser, page, url, cond, warm));
        }
      }
    }
  } finally {
    await browser.close();
  }

  console.log(
    `page weight and time to interactive: ${BASE}, Chromium ${version}, phone viewport ` +
      `360x740, fresh context (cold cache) per run, ${RUNS} runs per condition`,
  );
  console.log("1 kB = 1000 bytes; transferred = encodedDataLength (compressed body + headers)");

  // Bytes: from the first Slow 4G run of each page (the same in every run but for the API's
  // JSON by a few bytes).
  const order = ["HTML", "CSS", "JS", "WASM", "API (JSON)", "image/icon"];
  const totals = {};
  for (const page of Object.keys(PAGES)) {
    const all = results[page]["Slow 4G"][0].requests;
    // CDP reports no byte count for a WebSocket (the ticket page's live socket): listed apart.
    const sockets = all.filter((r) => r.ws).length;
    const reqs = all.filter((r) => !r.ws);
    console.log(`\n### ${page} page: bytes of a first visit\n`);
    console.log("| type | requests | transferred kB | decoded kB | content-encoding |");
    console.log("|---|---|---|---|---|");
    const byKind = new Map();
    for (const r of reqs) {
      const k = kind(r);
      const e = byKind.get(k) ?? { n: 0, transferred: 0, decoded: 0, enc: new Set() };
      e.n++;
      e.transferred += r.transferred ?? 0;
      e.decoded += r.decoded;
      if (!r.ws) e.enc.add(r.encoding ?? "?");
      byKind.set(k, e);
    }
    const kinds = [...byKind.keys()].sort(
      (a, b) => (order.indexOf(a) + 1 || 99) - (order.indexOf(b) + 1 || 99),
    );
    let total = 0;
    let totalDecoded = 0;
    let assets = 0;
    for (const k of kinds) {
      const e = byKind.get(k);
      total += e.transferred;
      totalDecoded += e.decoded;
      if (["HTML", "CSS", "JS", "WASM"].includes(k)) assets += e.transferred;
      console.log(
        `| ${k} | ${e.n} | ${kb(e.transferred)} | ${kb(e.decoded)} | ${[...e.enc].join(", ") || "-"} |`,
      );
    }
    console.log(`| **total** | ${reqs.length} | **${kb(total)}** | ${kb(totalDecoded)} | |`);
    console.log(`(HTML + CSS + JS + WASM alone: ${kb(assets)} kB)`);
    if (sockets) console.log(`(plus ${sockets} WebSocket, not counted: CDP gives no byte count for it)`);
    totals[page] = total;
  }

  console.log("\n### Repeat visit (same browser, cache kept): bytes transferred\n");
  console.log("| page | requests | from network | transferred kB |");
  console.log("|---|---|---|---|");
  for (const page of Object.keys(PAGES)) {
    const reqs = results[page]["Slow 4G, repeat visit"][0].requests.filter((r) => !r.ws);
    const fromNet = reqs.filter((r) => !r.fromCache && (r.transferred ?? 0) > 0);
    const bytes = reqs.reduce((a, r) => a + (r.fromCache ? 0 : r.transferred ?? 0), 0);
    console.log(`| ${page} | ${reqs.length} | ${fromNet.map((r) => kind(r)).join(", ")} | ${kb(bytes)} |`);
  }

  console.log("\n### Time to interactive, ms from navigation start (median of runs; TTI min-max)\n");
  console.log(
    "| page | condition | HTML received | first paint | wasm downloaded | wasm instantiated | " +
      "button enabled | TTI (click effect) | TTI min-max | live (hydrated) |",
  );
  console.log("|---|---|---|---|---|---|---|---|---|---|");
  const tti = {};
  const live = {};
  for (const page of Object.keys(PAGES)) {
    tti[page] = {};
    for (const cond of CONDITIONS) {
      const runs = results[page][cond.name].map((r) => r.timings);
      const med = (key) => {
        const v = runs.map((t) => t[key]).filter((x) => x !== undefined);
        return v.length ? median(v) : undefined;
      };
      const effects = runs.map((t) => t.effect);
      tti[page][cond.name] = med("effect");
      (live[page] ??= {})[cond.name] = med("hydrated");
      console.log(
        `| ${page} | ${cond.name} | ${ms(med("html"))} | ${ms(med("fcp"))} | ` +
          `${ms(med("wasmLoaded"))} | ${ms(med("wasmInstantiated"))} | ${ms(med("enabled"))} | ` +
          `**${ms(med("effect"))}** | ${ms(Math.min(...effects))}-${ms(Math.max(...effects))} | ` +
          `${ms(med("hydrated"))} |`,
      );
    }
  }

  console.log("\n### Static assets as served (first Slow 4G run of the ticket page)\n");
  console.log("| resource | status | content-encoding | cache-control | validator |");
  console.log("|---|---|---|---|---|");
  for (const r of results.ticket["Slow 4G"][0].requests) {
    if (r.ws || new URL(r.url).pathname.startsWith("/api/")) continue;
    const path = new URL(r.url).pathname;
    const shown = path.startsWith("/t/") ? "/t/<token>" : path;
    const validator = r.etag ? `ETag` : r.lastModified ? "Last-Modified" : "-";
    console.log(`| ${shown} | ${r.status} | ${r.encoding} | ${r.cache} | ${validator} |`);
  }

  if (SMOKE) return smokeCheck(results);
  const ticketTotal = totals.ticket;
  console.log("\n### Targets (issue 5)\n");
  console.log(
    `ticket page, first visit: ${kb(ticketTotal)} kB transferred in total ` +
      `(target <= ${kb(TARGET_TICKET_BYTES)} kB): ${met(ticketTotal <= TARGET_TICKET_BYTES)}`,
  );
  for (const page of Object.keys(PAGES)) {
    const v = tti[page]["Slow 4G"];
    console.log(
      `${page} page, interactive on Slow 4G: ${ms(v)} ms (target < ${TARGET_TTI_MS}): ` +
        `${met(v !== undefined && v < TARGET_TTI_MS)}; live (hydrated) at ` +
        `${ms(live[page]["Slow 4G"])} ms`,
    );
  }
}

// What a smoke run checks: every page, in every condition, became interactive and live (else
// `measure` timed out already), fetched its HTML and wasm, and the ticket page opened its
// live socket.
function smokeCheck(results) {
  const problems = [];
  for (const page of Object.keys(PAGES)) {
    for (const cond of CONDITIONS) {
      for (const run of results[page][cond.name]) {
        const t = run.timings;
        if (!(t.effect > 0 && t.hydrated > 0)) problems.push(`${page}, ${cond.name}: not interactive`);
        if (cond.repeat) continue;
        const got = (k) => run.requests.some((r) => kind(r) === k && r.status === 200);
        for (const k of ["HTML", "CSS", "JS", "WASM"]) {
          if (!got(k)) problems.push(`${page}, ${cond.name}: no ${k} answered 200`);
        }
        if (page === "ticket" && !run.requests.some((r) => r.ws && r.status === 101)) {
          problems.push(`${page}, ${cond.name}: no live socket`);
        }
      }
    }
  }
  console.log("\n### Smoke run (no throttling; the figures above are not measurements)\n");
  if (problems.length) {
    console.log(problems.join("\n"));
    process.exit(1);
  }
  console.log("smoke: every page measured whole in every condition");
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
