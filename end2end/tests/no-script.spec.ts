// The phone pages work before their app has loaded, and with no JavaScript at all: the join
// and cancel forms are plain HTML forms the server answers (see server/src/http/forms.rs).
// On a slow network this is what a customer at the door uses for the first seconds.

import { test, expect, type Page } from "@playwright/test";
import { PHONE, StaffApi, screen, tag } from "./helpers";

test.beforeEach(async ({ request }) => {
  await (await StaffApi.login(request)).resetVenue();
});

test("with JavaScript off, a phone joins, sees its ticket and cancels it", async ({ browser, request }) => {
  const api = await StaffApi.login(request);
  await api.join("bar", `Ahead ${tag()}`, 2);
  const { context, page } = await screen(browser, { ...PHONE, javaScriptEnabled: false });
  try {
    await page.goto("/v/demo?queue=bar");
    await expect(page.getByTestId("join-queue-bar")).toBeChecked();
    const name = `NoJs ${tag()}`;
    await page.getByTestId("join-name").fill(name);
    await page.getByTestId("join-party").fill("3");
    await page.getByTestId("join-notes").fill("by the window");
    await page.getByTestId("join-submit").click();

    await expect(page).toHaveURL(/\/t\/[^/?]+$/);
    const token = new URL(page.url()).pathname.split("/").pop()!;
    await expect(page.getByTestId("ticket-number")).toHaveText(/^A\d+$/);
    await expect(page.getByTestId("ticket-position")).toHaveText("2");
    const t = await api.ticket(token);
    expect([t.name, t.party_size, t.notes, t.status]).toEqual([name, 3, "by the window", "waiting"]);

    // The confirmation opens without a script; confirming posts the cancel.
    await expect(page.getByTestId("confirm-cancel")).toBeHidden();
    await page.getByTestId("cancel-ticket").click();
    await expect(page.getByTestId("confirm-cancel")).toBeVisible();
    await page.getByTestId("confirm-cancel").click();
    await expect(page).toHaveURL(new RegExp(`/t/${token}$`));
    await expect(page.getByTestId("ticket-status")).toHaveAttribute("data-status", "cancelled");
    expect((await api.ticket(token)).status).toBe("cancelled");
  } finally {
    await context.close();
  }
});

test("with JavaScript off, a refused join keeps what was typed and says why", async ({ browser, request }) => {
  const api = await StaffApi.login(request);
  const { context, page } = await screen(browser, { ...PHONE, javaScriptEnabled: false });
  try {
    await page.goto("/v/demo?queue=bar");
    // Paused after the page was shown: the server refuses, and nothing typed is lost.
    await api.queueAction("bar", "pause");
    const name = `Kept ${tag()}`;
    await page.getByTestId("join-name").fill(name);
    await page.getByTestId("join-party").fill("4");
    await page.getByTestId("join-submit").click();
    await expect(page.getByTestId("join-error")).toContainText(/paused/i);
    await expect(page).toHaveURL(/\/v\/demo\?queue=bar$/);
    await expect(page.getByTestId("join-name")).toHaveValue(name);
    await expect(page.getByTestId("join-party")).toHaveValue("4");
    expect((await api.snapshot()).queues.find((q) => q.slug === "bar")!.tickets).toEqual([]);

    // Resumed: choose another queue and send the same form again.
    await api.queueAction("bar", "resume");
    await page.getByTestId("join-queue-tables-large").check();
    await page.getByTestId("join-submit").click();
    await expect(page).toHaveURL(/\/t\/[^/?]+$/);
    await expect(page.getByTestId("ticket-number")).toHaveText(/^C\d+$/);
  } finally {
    await context.close();
    await api.queueAction("bar", "resume");
  }
});

/** Hold back every .wasm request until `release()`: the page is painted but not hydrated. */
async function holdWasm(page: Page): Promise<() => void> {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  await page.route(/\.wasm$/, async (route) => {
    await released;
    await route.continue();
  });
  return release;
}

test.describe("before the app has loaded", () => {
  test.use(PHONE);

  test("what a phone types before its app loads survives hydration, and the app takes over", async ({ page }) => {
    const release = await holdWasm(page);
    await page.goto("/v/demo?queue=bar");
    await expect(page.getByTestId("join-name")).toBeEditable();
    await expect(page.locator("html[data-hydrated]")).toHaveCount(0);
    const name = `Early ${tag()}`;
    await page.getByTestId("join-name").fill(name);
    await page.getByTestId("join-party").fill("5");
    await page.getByTestId("join-queue-tables-small").check();

    release();
    await expect(page.locator("html[data-hydrated]")).toHaveCount(1);
    await expect(page.getByTestId("join-name")).toHaveValue(name);
    await expect(page.getByTestId("join-party")).toHaveValue("5");
    await expect(page.getByTestId("join-queue-tables-small")).toBeChecked();

    // The app sends it, through the API, and keeps the page (no form post).
    const posted = page.waitForRequest((r) => r.method() === "POST");
    await page.getByTestId("join-submit").click();
    expect(new URL((await posted).url()).pathname).toBe("/api/v1/venues/demo/queues/tables-small/tickets");
    await expect(page).toHaveURL(/\/t\/[^/?]+$/);
    await expect(page.getByTestId("ticket-number")).toHaveText(/^B\d+$/);
    await expect(page.getByTestId("connection")).toHaveAttribute("data-state", "live");
  });

  test("a ticket page's cancel opens before its app loads, and the app handles the answer", async ({ page, request }) => {
    const api = await StaffApi.login(request);
    const me = await api.join("bar", `Early cancel ${tag()}`, 2);
    const release = await holdWasm(page);
    await page.goto(`/t/${me.token}`);
    await page.getByTestId("cancel-ticket").click();
    await expect(page.getByTestId("confirm-cancel")).toBeVisible();

    release();
    await expect(page.locator("html[data-hydrated]")).toHaveCount(1);
    await expect(page.getByTestId("confirm-cancel")).toBeVisible();
    const sent = page.waitForRequest((r) => r.method() === "DELETE");
    await page.getByTestId("confirm-cancel").click();
    await sent;
    await expect(page.getByTestId("ticket-status")).toHaveAttribute("data-status", "cancelled");
    expect((await api.ticket(me.token!)).status).toBe("cancelled");
  });
});
