// The customer's ticket page on a phone: live updates across a lost connection, a reload,
// and cancelling.

import { test, expect, type Page } from "@playwright/test";
import * as path from "node:path";
import { DESKTOP, PHONE, SCREENSHOTS, StaffApi, joinFromPhone, openHydrated, screen, staffLogin, staffRow, tag } from "./helpers";

test.use(PHONE);

/**
 * `context.setOffline(true)` makes requests and new WebSocket connections fail (and fires
 * `offline`/`online` in the page), but leaves WebSockets that are already open untouched:
 * Chromium's offline emulation never drops them. A phone that loses its network does lose
 * them, so this init script keeps track of the page's sockets and `goOffline` closes them.
 */
async function trackSockets(page: Page) {
  await page.addInitScript(() => {
    const Native = window.WebSocket;
    const open = new Set<WebSocket>();
    (window as unknown as { __filaSockets: Set<WebSocket> }).__filaSockets = open;
    class Tracked extends Native {
      constructor(url: string | URL, protocols?: string | string[]) {
        super(url, protocols);
        open.add(this);
        this.addEventListener("close", () => open.delete(this));
      }
    }
    window.WebSocket = Tracked;
  });
}

async function goOffline(page: Page) {
  await page.context().setOffline(true);
  const closed = await page.evaluate(() => {
    const open = (window as unknown as { __filaSockets: Set<WebSocket> }).__filaSockets;
    const n = open.size;
    for (const s of open) s.close();
    return n;
  });
  expect(closed, "the ticket page had its live socket open").toBeGreaterThan(0);
}

async function goOnline(page: Page) {
  await page.context().setOffline(false);
}

test("after the connection drops and comes back, the ticket shows the exact new position", async ({ page, request }) => {
  const api = await StaffApi.login(request);
  await api.resetVenue();
  const bar2 = await api.counter("Bar 2");
  const t = tag();
  const ahead = [];
  for (const n of ["Ada", "Ben", "Cleo", "Dev"]) ahead.push(await api.join("bar", `${n} ${t}`, 2));

  await trackSockets(page);
  const me = await joinFromPhone(page, "bar", `Reconnect ${t}`);
  const position = page.getByTestId("ticket-position");
  const conn = page.getByTestId("connection");
  await expect(position).toHaveText("5");
  await expect(conn).toHaveAttribute("data-state", "live");

  await goOffline(page);
  await expect(conn).not.toHaveAttribute("data-state", "live");
  await expect(conn).toHaveAttribute("data-state", "offline");

  // While the phone is away: two are called and served, one leaves.
  for (let i = 0; i < 2; i++) {
    const called = await api.callNext("bar", bar2.id);
    await api.ticketAction(called!.id, "serve");
  }
  await api.ticketAction(ahead[3].id, "cancel");
  const truth = await api.ticket(me.token);
  expect(truth.status).toBe("waiting");
  expect(truth.position).toBe(2);
  // Nothing reached the phone meanwhile.
  await expect(position).toHaveText("5");
  await expect(conn).not.toHaveAttribute("data-state", "live");

  await goOnline(page);
  await expect(conn).toHaveAttribute("data-state", "live", { timeout: 5_000 });
  await expect(position).toHaveText(String(truth.position), { timeout: 3_000 });
  await expect(page.getByTestId("ticket-number")).toHaveText(me.number);

  // And it is live again: the next change arrives without a reload.
  const next = await api.callNext("bar", bar2.id);
  expect(next!.number).toBe(ahead[2].number);
  await expect(position).toHaveText("1");
  expect((await api.ticket(me.token)).position).toBe(1);
});

test("reloading the ticket page restores the ticket, and the join page links back to it", async ({ page, request }) => {
  const api = await StaffApi.login(request);
  await api.resetVenue();
  await api.join("tables-small", `Before ${tag()}`, 2);
  const me = await joinFromPhone(page, "tables-small", `Reload ${tag()}`, 2);
  await expect(page.getByTestId("ticket-position")).toHaveText("2");
  const ticketUrl = page.url();

  await page.reload();
  await expect(page.getByTestId("ticket-number")).toHaveText(me.number);
  await expect(page.getByTestId("ticket-status")).toHaveAttribute("data-status", "waiting");
  await expect(page.getByTestId("ticket-position")).toHaveText("2");
  await expect(page.getByTestId("connection")).toHaveAttribute("data-state", "live");

  await page.goto("/v/demo");
  const existing = page.getByTestId("existing-ticket");
  await expect(existing).toBeVisible();
  await expect(existing).toContainText(me.number);
  await existing.click();
  await expect(page).toHaveURL(ticketUrl);
  await expect(page.getByTestId("ticket-number")).toHaveText(me.number);
});

test("cancelling asks first, then the ticket is cancelled and leaves the staff dashboard", async ({ page, browser, request }) => {
  // Two screens, each loading the app.
  test.setTimeout(60_000);
  const api = await StaffApi.login(request);
  await api.resetVenue();
  const me = await joinFromPhone(page, "tables-large", `Cancel ${tag()}`, 4);
  await expect(page.getByTestId("ticket-status")).toHaveAttribute("data-status", "waiting");

  const staff = await screen(browser, DESKTOP);
  try {
    await staffLogin(staff.page);
    const row = staffRow(staff.page, me.number);
    await expect(row).toHaveCount(1);
    await expect(row).toHaveAttribute("data-status", "waiting");

    // Asking first: "keep my place" changes nothing.
    await page.getByTestId("cancel-ticket").click();
    await expect(page.getByTestId("confirm-cancel")).toBeVisible();
    await page.getByTestId("keep-place").click();
    await expect(page.getByTestId("confirm-cancel")).toBeHidden();
    await expect(page.getByTestId("cancel-ticket")).toBeVisible();
    await expect(page.getByTestId("ticket-status")).toHaveAttribute("data-status", "waiting");
    expect((await api.ticket(me.token)).status).toBe("waiting");

    await page.getByTestId("cancel-ticket").click();
    await page.getByTestId("confirm-cancel").click();
    await expect(page.getByTestId("ticket-status")).toHaveAttribute("data-status", "cancelled");
    await expect(page.getByTestId("ticket-position")).toHaveCount(0);
    await expect(page.getByTestId("cancel-ticket")).toHaveCount(0);
    expect((await api.ticket(me.token)).status).toBe("cancelled");

    await expect(row).toHaveCount(0);
    await expect(staff.page.getByTestId("queue-tables-large").getByTestId("ticket-row")).toHaveCount(0);

    // A cancelled ticket is not offered again on the join page.
    const checked = page.waitForResponse((r) => r.url().endsWith(`/api/v1/tickets/${me.token}`));
    await page.goto("/v/demo");
    expect((await checked).status()).toBe(200);
    await expect(page.getByTestId("join-submit")).toBeEnabled();
    await expect(page.getByTestId("existing-ticket")).toHaveCount(0);
  } finally {
    await staff.context.close();
  }
});

test("an open cancel confirmation stays open when the ticket is called", async ({ page, request }) => {
  const api = await StaffApi.login(request);
  await api.resetVenue();
  const me = await api.join("bar", `Undecided ${tag()}`, 2);
  await openHydrated(page, `/t/${me.token}`, "cancel-ticket");
  await expect(page.getByTestId("connection")).toHaveAttribute("data-state", "live");
  await page.getByTestId("cancel-ticket").click();
  await expect(page.getByTestId("confirm-cancel")).toBeVisible();

  await api.callNext("bar", (await api.counter("Bar 1")).id);
  await expect(page.getByTestId("your-turn")).toBeVisible();
  // Still there, and still works: a called ticket may be cancelled.
  await expect(page.getByTestId("confirm-cancel")).toBeVisible();
  await page.getByTestId("confirm-cancel").click();
  await expect(page.getByTestId("ticket-status")).toHaveAttribute("data-status", "cancelled");
});

test("a phone loads the phone's own wasm, gets its ticket with the page, and leaves it for other pages", async ({ page, request }) => {
  const api = await StaffApi.login(request);
  await api.resetVenue();
  const t = tag();
  await api.join("bar", `Ahead ${t}`, 2);
  const me = await api.join("bar", `Bundle ${t}`, 2);
  const wasm: string[] = [];
  const problems: string[] = [];
  page.on("request", (r) => {
    if (new URL(r.url()).pathname.endsWith(".wasm")) wasm.push(new URL(r.url()).pathname);
  });
  page.on("pageerror", (e) => problems.push(e.message));
  page.on("console", (m) => {
    if (m.type() === "error" && /panicked|hydrat/i.test(m.text())) problems.push(m.text());
  });

  // The server renders the ticket into the page: no request of the page's own for it.
  const fetched: string[] = [];
  page.on("request", (r) => {
    if (new URL(r.url()).pathname === `/api/v1/tickets/${me.token}`) fetched.push(r.method());
  });
  await openHydrated(page, `/t/${me.token}`, "cancel-ticket");
  await expect(page.getByTestId("ticket-number")).toHaveText(me.number);
  await expect(page.getByTestId("ticket-position")).toHaveText("2");
  await expect(page.getByTestId("connection")).toHaveAttribute("data-state", "live");
  expect(fetched, "the ticket came with the page").toEqual([]);
  expect(wasm).toEqual([expect.stringMatching(/^\/pkg\/fila-phone\.[0-9a-f]{16}_bg\.wasm$/)]);

  // Still live after hydrating from the server's copy.
  await api.join("bar", `Behind ${t}`, 2);
  const bar1 = await api.counter("Bar 1");
  await api.callNext("bar", bar1.id);
  await expect(page.getByTestId("ticket-position")).toHaveText("1");

  // The start page is not in the phone's app: its link loads it, with the whole app.
  await page.locator("a.brand").click();
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByRole("link", { name: "Staff login" })).toBeVisible();
  await expect.poll(() => wasm.length).toBe(2);
  expect(wasm[1]).toMatch(/^\/pkg\/fila\.[0-9a-f]{16}_bg\.wasm$/);
  expect(problems).toEqual([]);
});

test("the phone tells its customer when they are almost up and when they are called, by notification when out of sight", async ({ browser, request }) => {
  const api = await StaffApi.login(request);
  await api.resetVenue();
  // A queue of its own: its pace, and so its wait estimate, is the default two minutes a
  // call, whatever other tests called elsewhere.
  const slug = `n-${tag()}`.toLowerCase().replace(/[^a-z0-9-]/g, "").slice(0, 30);
  await api.addQueue(slug, "Terrace", "N");
  const bar1 = await api.counter("Bar 1");
  const { context, page } = await screen(browser, PHONE);
  try {
    // What the page asks the operating system to show: that is beyond the page, so it is
    // recorded here instead.
    await page.addInitScript(() => {
      const shown: Array<{ title: string; body?: string; tag?: string; data?: unknown }> = [];
      (window as unknown as { __shown: typeof shown }).__shown = shown;
      ServiceWorkerRegistration.prototype.showNotification = function (title: string, options?: NotificationOptions) {
        shown.push({ title, body: options?.body, tag: options?.tag, data: options?.data });
        return Promise.resolve();
      };
    });
    const shown = () => page.evaluate(() => (window as unknown as { __shown: Array<{ title: string; body?: string; tag?: string; data?: unknown }> }).__shown);
    const setHidden = (hidden: boolean) =>
      page.evaluate((hidden) => {
        Object.defineProperty(document, "visibilityState", { configurable: true, get: () => (hidden ? "hidden" : "visible") });
        document.dispatchEvent(new Event("visibilitychange"));
      }, hidden);

    for (const n of ["Ada", "Ben", "Cleo", "Dev"]) await api.join(slug, n, 2);
    const me = await api.join(slug, "Eve", 2);
    await openHydrated(page, `/t/${me.token}`, "cancel-ticket");
    await expect(page.getByTestId("ticket-position")).toHaveText("5");
    await expect(page.getByTestId("connection")).toHaveAttribute("data-state", "live");
    await expect(page.getByTestId("almost-up")).toHaveCount(0);
    await expect(page).toHaveTitle(new RegExp(`Ticket ${me.number}`));

    // Notifications: asked for with a tap, which installs the service worker.
    await context.grantPermissions(["notifications"]);
    await page.getByTestId("notify-me").click();
    await expect(page.getByTestId("notify-on")).toBeVisible();
    expect(await page.evaluate(async () => (await navigator.serviceWorker.ready).active?.scriptURL)).toMatch(/\/sw\.js$/);

    // Out of sight: four ahead (eight minutes) is not close yet; three ahead is close enough.
    await setHidden(true);
    await api.callNext(slug, bar1.id);
    await expect(page.getByTestId("ticket-position")).toHaveText("4");
    await expect(page.getByTestId("almost-up")).toHaveCount(0);
    await api.callNext(slug, bar1.id);
    await expect(page.getByTestId("ticket-position")).toHaveText("3");
    await expect(page.getByTestId("almost-up")).toBeVisible();
    await expect(page).toHaveTitle(new RegExp(`Almost up · ${me.number}`));
    await page.screenshot({ path: path.join(SCREENSHOTS, "phone-almost-up.png"), animations: "disabled" });
    await expect.poll(shown).toEqual([
      {
        title: `You're almost up · ${me.number}`,
        body: "2 people ahead of you. Please come back to Demo Bar & Grill and stay close.",
        tag: "fila-ticket",
        data: `/t/${me.token}`,
      },
    ]);

    // Closer still is told once only; in sight, the page says it itself.
    await api.callNext(slug, bar1.id);
    await expect(page.getByTestId("ticket-position")).toHaveText("2");
    await setHidden(false);
    await api.callNext(slug, bar1.id);
    await expect(page.getByTestId("ticket-position")).toHaveText("1");
    const called = await api.callNext(slug, bar1.id);
    expect(called!.number).toBe(me.number);
    await expect(page.getByTestId("your-turn")).toHaveText("It's your turn — go to Bar 1");
    await expect(page).toHaveTitle(new RegExp(`It's your turn · ${me.number}`));
    expect(await shown()).toHaveLength(1);

    // A recall while the phone is in a pocket is a notification again.
    await setHidden(true);
    await api.ticketAction(called!.id, "recall");
    await expect.poll(async () => (await shown()).length).toBe(2);
    expect((await shown())[1]).toEqual({
      title: `It's your turn · ${me.number}`,
      body: "Go to Bar 1 at Demo Bar & Grill.",
      tag: "fila-ticket",
      data: `/t/${me.token}`,
    });
  } finally {
    await context.close();
    await api.resetVenue();
    await api.removeQueue(slug);
  }
});
