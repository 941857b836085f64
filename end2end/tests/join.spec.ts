// The join form refuses what it must, in words a customer understands.

import { test, expect } from "@playwright/test";
import { PHONE, StaffApi, openHydrated, tag } from "./helpers";

test.use(PHONE);

// Every queue open and empty: `?queue=bar` can preselect the bar.
test.beforeEach(async ({ request }) => {
  await (await StaffApi.login(request)).resetVenue();
});

test("an empty name is refused with a visible message", async ({ page }) => {
  await openHydrated(page, "/v/demo?queue=bar", "join-submit");
  await expect(page.getByTestId("join-queue-bar")).toBeChecked();
  await page.getByTestId("join-name").fill("   ");
  await page.getByTestId("join-submit").click();

  const error = page.getByTestId("join-error");
  await expect(error).toBeVisible();
  await expect(error).toContainText(/name/i);
  await expect(page).toHaveURL(/\/v\/demo/);

  // Once a name is given the same form goes through.
  await page.getByTestId("join-name").fill(`Named ${tag()}`);
  await page.getByTestId("join-submit").click();
  await expect(page).toHaveURL(/\/t\/[^/]+$/);
  await expect(page.getByTestId("ticket-number")).toHaveText(/^A\d+$/);
});

test("a party size out of range is refused", async ({ page }) => {
  await openHydrated(page, "/v/demo?queue=bar", "join-submit");
  await page.getByTestId("join-name").fill(`Party ${tag()}`);
  await page.getByTestId("join-party").fill("0");
  await page.getByTestId("join-submit").click();
  await expect(page.getByTestId("join-error")).toContainText(/party size/i);
  await expect(page).toHaveURL(/\/v\/demo/);
});

test.describe("a paused queue", () => {
  test.afterEach(async ({ request }) => {
    const api = await StaffApi.login(request);
    await api.queueAction("bar", "resume");
  });

  test("paused after the page loaded: joining shows a friendly message", async ({ page, request }) => {
    const api = await StaffApi.login(request);
    await openHydrated(page, "/v/demo?queue=bar", "join-submit");
    await expect(page.getByTestId("join-queue-bar")).toBeChecked();
    await page.getByTestId("join-name").fill(`Paused ${tag()}`);

    await api.queueAction("bar", "pause");
    await page.getByTestId("join-submit").click();
    const error = page.getByTestId("join-error");
    await expect(error).toBeVisible();
    await expect(error).toContainText(/paused/i);
    await expect(page).toHaveURL(/\/v\/demo/);
    // Nobody joined.
    const bar = (await api.snapshot()).queues.find((q) => q.slug === "bar")!;
    expect(bar.tickets).toEqual([]);

    // Resumed: the same form works again.
    await api.queueAction("bar", "resume");
    await page.getByTestId("join-submit").click();
    await expect(page).toHaveURL(/\/t\/[^/]+$/);
  });

  test("paused before the page loaded: the queue is shown as paused and cannot be chosen", async ({ page, request }) => {
    const api = await StaffApi.login(request);
    await api.queueAction("bar", "pause");
    await page.goto("/v/demo?queue=bar");

    const bar = page.getByTestId("join-queue-bar");
    await expect(bar).toBeDisabled();
    await expect(bar).not.toBeChecked();
    await expect(page.locator("label.queue-option", { has: bar })).toContainText("Paused");
    // Another, open queue is offered instead.
    await expect(page.getByTestId("join-queue-tables-small")).toBeChecked();
  });
});
