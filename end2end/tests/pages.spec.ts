// Every screen loads cleanly (no console error, no failed request) and hydrates (a click
// is handled by the browser app, not lost).

import { test, expect, type Page } from "@playwright/test";
import { DESKTOP, PHONE, StaffApi, TV, openHydrated, ownerPassword, screen, tag } from "./helpers";

/** Records console errors, uncaught exceptions and 4xx/5xx answers of one page. */
function watch(page: Page) {
  const problems: string[] = [];
  page.on("console", (msg) => {
    if (msg.type() === "error") problems.push(`console error: ${msg.text()} (${msg.location().url})`);
  });
  page.on("pageerror", (err) => problems.push(`uncaught: ${err.message}`));
  page.on("response", (res) => {
    if (res.status() >= 400) problems.push(`HTTP ${res.status()}: ${res.request().method()} ${res.url()}`);
  });
  page.on("requestfailed", (req) => {
    problems.push(`request failed: ${req.method()} ${req.url()} (${req.failure()?.errorText})`);
  });
  return problems;
}

test("phone: join page and ticket page load cleanly and hydrate", async ({ browser, request }) => {
  const api = await StaffApi.login(request);
  await api.resetVenue();
  const { context, page } = await screen(browser, PHONE);
  const problems = watch(page);
  try {
    await page.goto("/v/demo");
    await expect(page.getByRole("heading", { level: 1 })).toHaveText("Demo Bar & Grill");
    await expect(page.getByTestId("join-queue-bar")).toBeVisible();
    // Hydrated: the app handles the submit (before, the browser would post the form and
    // check `required` itself): an empty name gets the app's message.
    await expect(page.locator("html[data-hydrated]")).toHaveCount(1);
    await page.getByTestId("join-submit").click();
    await expect(page.getByTestId("join-error")).toBeVisible();

    await page.getByTestId("join-queue-tables-small").check();
    await page.getByTestId("join-name").fill(`Clean ${tag()}`);
    await page.getByTestId("join-submit").click();
    await expect(page).toHaveURL(/\/t\/[^/]+$/);
    await expect(page.getByTestId("ticket-number")).toHaveText(/^B\d+$/);
    await expect(page.getByTestId("connection")).toHaveAttribute("data-state", "live");

    // A fresh load of the ticket page (server-rendered, then hydrated).
    await page.reload();
    await expect(page.getByTestId("ticket-position")).toHaveText("1");
    await expect(page.getByTestId("connection")).toHaveAttribute("data-state", "live");
    await page.getByTestId("cancel-ticket").click();
    await expect(page.getByTestId("confirm-cancel")).toBeVisible();
    await page.getByTestId("keep-place").click();
    await expect(page.getByTestId("cancel-ticket")).toBeVisible();

    expect(problems).toEqual([]);
  } finally {
    await context.close();
  }
});

test("staff: login page and dashboard load cleanly and hydrate", async ({ browser, request }) => {
  const api = await StaffApi.login(request);
  await api.resetVenue();
  const { context, page } = await screen(browser, DESKTOP);
  const problems = watch(page);
  try {
    await openHydrated(page, "/staff", "login-submit");
    await page.getByTestId("login-email").fill("owner@demo.fila");
    await page.getByTestId("login-password").fill(ownerPassword());
    await page.getByTestId("login-submit").click();
    await expect(page).toHaveURL(/\/staff\/demo$/);
    await expect(page.getByTestId("connection")).toHaveAttribute("data-state", "live");
    for (const slug of ["bar", "tables-small", "tables-large"]) {
      await expect(page.getByTestId(`queue-${slug}`)).toBeVisible();
    }

    // Fresh load of the dashboard with the saved login.
    await page.reload();
    await expect(page.getByTestId("queue-bar")).toBeVisible();
    await expect(page.getByTestId("connection")).toHaveAttribute("data-state", "live");
    // Hydrated: choosing a counter is remembered by the browser app.
    const select = page.getByTestId("counter-select");
    const last = await select.locator("option").last().getAttribute("value");
    await select.selectOption(last!);
    await expect.poll(() => page.evaluate(() => localStorage.getItem("fila.staff.counter"))).toBe(last);

    expect(problems).toEqual([]);
  } finally {
    await context.close();
  }
});

test("venue screen loads cleanly and hydrates", async ({ browser, request }) => {
  const api = await StaffApi.login(request);
  await api.resetVenue();
  const { context, page } = await screen(browser, TV);
  const problems = watch(page);
  try {
    await page.goto("/display/demo");
    await expect(page.getByTestId("display-queue-bar")).toBeVisible();
    await expect(page.getByTestId("connection")).toHaveAttribute("data-state", "live");
    const qr = page.getByTestId("qr");
    await expect(qr).toBeVisible();
    await expect.poll(() => qr.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0)).toBe(true);
    await expect(page.getByTestId("join-url")).toContainText("/v/demo");

    // Hydrated: the sound button is handled (and goes away once sound is on).
    await page.getByTestId("enable-sound").click();
    await expect(page.getByTestId("enable-sound")).toHaveCount(0);

    // Live: a call made elsewhere appears.
    const counter = await api.counter("Bar 2");
    const t = await api.join("bar", `Screen ${tag()}`, 2);
    await api.callNext("bar", counter.id);
    await expect(page.locator(`[data-testid="called-ticket"][data-number="${t.number}"]`)).toContainText("Bar 2");

    expect(problems).toEqual([]);
  } finally {
    await context.close();
  }
});
