// The staff dashboard, driven by clicks only.

import { test, expect } from "@playwright/test";
import * as path from "node:path";
import { DESKTOP, SCREENSHOTS, StaffApi, openHydrated, openSettings, staffLogin, tag } from "./helpers";

test.use(DESKTOP);

test("a wrong password is refused on the login page", async ({ page }) => {
  await openHydrated(page, "/staff", "login-submit");
  await page.getByTestId("login-email").fill("owner@demo.fila");
  await page.getByTestId("login-password").fill("not-the-password");
  await page.getByTestId("login-submit").click();
  await expect(page.getByTestId("login-error")).toBeVisible();
  await expect(page).toHaveURL(/\/staff$/);
});

test("walk-in: add, call, recall, mark served; the row leaves the dashboard", async ({ page, request }) => {
  const api = await StaffApi.login(request);
  await api.resetVenue();
  const table7 = await api.counter("Table 7");
  await staffLogin(page);
  await page.getByTestId("counter-select").selectOption(String(table7.id));

  // Add a walk-in to "Tables 3+".
  const name = `Walk-in ${tag()}`;
  await page.getByTestId("walkin-queue").selectOption("tables-large");
  await page.getByTestId("walkin-name").fill(name);
  await page.getByTestId("walkin-party").fill("4");
  await page.getByTestId("walkin-submit").click();
  await expect(page.getByTestId("staff-notice")).toContainText(/Added C\d+ to Tables 3\+/);
  await expect(page.getByTestId("walkin-name")).toHaveValue("");

  const panel = page.getByTestId("queue-tables-large");
  const waiting = panel.getByTestId("ticket-row").filter({ hasText: name });
  await expect(waiting).toHaveCount(1);
  await expect(waiting).toHaveAttribute("data-status", "waiting");
  await expect(waiting).toContainText("walk-in");
  const number = (await waiting.getAttribute("data-number"))!;
  expect(number).toMatch(/^C\d+$/);
  const row = page.locator(`[data-testid="ticket-row"][data-number="${number}"]`);

  // Call it to my counter.
  await waiting.getByTestId("action-call").click();
  await expect(row).toHaveAttribute("data-status", "called");
  await expect(panel.getByTestId("ticket-row")).toHaveCount(0);
  const serving = page.getByTestId("now-serving").locator(`[data-testid="ticket-row"][data-number="${number}"]`);
  await expect(serving).toContainText("at Table 7");

  // Recall: still called, called twice.
  await serving.getByTestId("action-recall").click();
  await expect(serving).toContainText("called 2×");
  await expect(serving).toHaveAttribute("data-status", "called");
  const snap = await api.snapshot();
  const t = snap.queues.flatMap((q) => q.tickets).find((t) => t.number === number)!;
  expect(t.calls).toBe(2);
  expect(t.counter).toBe("Table 7");

  // Served: gone from the dashboard.
  await serving.getByTestId("action-serve").click();
  await expect(row).toHaveCount(0);
  await expect(page.getByTestId("staff-error")).toHaveCount(0);
  const after = await api.snapshot();
  expect(after.queues.flatMap((q) => q.tickets).find((t) => t.number === number)).toBeUndefined();
});

test("pause and resume a queue from the dashboard", async ({ page, request }) => {
  const api = await StaffApi.login(request);
  await api.resetVenue();
  await staffLogin(page);
  const panel = page.getByTestId("queue-tables-small");
  await page.getByTestId("pause-tables-small").click();
  await expect(panel).toHaveAttribute("data-status", "paused");
  await expect(page.getByTestId("resume-tables-small")).toBeVisible();
  expect((await api.snapshot()).queues.find((q) => q.slug === "tables-small")!.status).toBe("paused");

  await page.getByTestId("resume-tables-small").click();
  await expect(panel).toHaveAttribute("data-status", "open");
  await expect(page.getByTestId("pause-tables-small")).toBeVisible();
});

test("an owner invites a new team member, who sets a password and lands on the dashboard", async ({ page, browser }) => {
  await staffLogin(page);
  await openSettings(page);
  const email = `new-${tag()}@example.com`.toLowerCase();
  await page.getByTestId("invite-email").fill(email);
  await page.getByTestId("invite-role").selectOption("staff");
  await page.getByTestId("invite-create").click();
  const link = page.getByTestId("invite-link");
  await expect(link).toHaveValue(/\/invite\/[0-9a-f]{48}$/);
  const url = new URL(await link.inputValue());

  // The invitee, on another device: a fresh browser context.
  const other = await browser.newContext();
  const phone = await other.newPage();
  await openHydrated(phone, url.href, "invite-accept");
  await expect(phone.getByTestId("invite-what")).toContainText("as staff");
  await phone.getByTestId("invite-password").fill("my brand new password");
  await phone.getByTestId("invite-password-again").fill("my brand new password");
  await phone.getByTestId("invite-accept").click();
  await expect(phone).toHaveURL(/\/staff\/demo$/);
  await expect(phone.getByTestId("now-serving")).toBeVisible();
  // Staff have no settings page, so no invite card either.
  await expect(phone.getByTestId("open-settings")).toHaveCount(0);
  await phone.goto(`${new URL(phone.url()).origin}/staff/demo/settings`);
  await expect(phone.getByTestId("settings-forbidden")).toBeVisible();
  await expect(phone.getByTestId("invite-form")).toHaveCount(0);

  // The link works once.
  const again = await other.newPage();
  await again.goto(url.href);
  await expect(again.getByTestId("invite-error")).toContainText("already been used");
  await other.close();

  // The owner sees them in the team and promotes them.
  await page.reload();
  const member = page.getByTestId("team").locator(`[data-email="${email}"]`);
  await expect(member).toHaveCount(1);
  await member.getByTestId("team-role").selectOption("manager");
  await expect(page.getByTestId("staff-notice")).toContainText(`${email} is now manager`);
});

test("a manager pairs a venue screen with a one-time code; only paired screens show the queue", async ({ page, browser, request }) => {
  const api = await StaffApi.login(request);
  try {
    await staffLogin(page);
    await openSettings(page);
    const screens = page.getByTestId("screens");
    await screens.getByTestId("screens-need-pairing").check();
    await screens.getByTestId("make-pairing-code").click();
    const code = (await screens.getByTestId("pairing-code").innerText()).trim();
    expect(code).toMatch(/^[A-Z2-9]{4}-[A-Z2-9]{4}$/);

    // The TV: no credential yet, so it asks for the code, once.
    const tv = await browser.newContext();
    const screen = await tv.newPage();
    const base = new URL(page.url()).origin;
    await screen.goto(`${base}/display/demo`);
    await expect(screen.getByTestId("pair-screen")).toBeVisible();
    await screen.getByTestId("pair-code").fill(code.toLowerCase());
    await screen.getByTestId("pair-submit").click();
    await expect(screen.getByTestId("pair-screen")).toHaveCount(0);
    await expect(screen.getByTestId("display-queue-bar")).toBeVisible();
    // After a reload it still works: the credential is kept on the screen.
    await screen.reload();
    await expect(screen.getByTestId("display-queue-bar")).toBeVisible();

    // With the rotating join code on, the paired screen still gets its QR (with the code).
    await page.getByTestId("screens").getByTestId("join-code-required").check();
    await expect(page.getByTestId("screens").getByTestId("join-code-required")).toBeChecked();
    await screen.reload();
    const qr = screen.getByTestId("qr");
    await expect(qr).toHaveAttribute("src", /screen=/);
    await expect.poll(() => qr.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBeGreaterThan(0);
    await page.getByTestId("screens").getByTestId("join-code-required").uncheck();

    // The dashboard lists it; revoking it sends the screen back to pairing.
    await page.reload();
    const row = page.getByTestId("screens").getByTestId("screen-row");
    await expect(row).toHaveCount(1);
    await row.getByTestId("revoke-screen").click();
    await expect(page.getByTestId("screens").getByTestId("screen-row")).toHaveCount(0);
    // The TV loses its live picture by itself (scripts/test.sh rechecks every 2 s) and asks
    // for a code again, no reload needed.
    await expect(screen.getByTestId("pair-screen")).toBeVisible({ timeout: 15_000 });
    await tv.close();
  } finally {
    // The other tests use the public venue screen and the plain join link.
    await request.post("/api/v1/venues/demo/screens/settings", {
      headers: { Authorization: `Bearer ${api.token}` },
      data: { need_pairing: false },
    });
    await request.post("/api/v1/venues/demo/join-code", {
      headers: { Authorization: `Bearer ${api.token}` },
      data: { required: false },
    });
  }
});

test("a manager caps a queue; when it is full the join page says so", async ({ page, browser, request }) => {
  const api = await StaffApi.login(request);
  await api.resetVenue();
  try {
    await staffLogin(page);
    await openSettings(page);
    const row = page.getByTestId("limit-tables-small");
    await row.getByTestId("limit-input").fill("1");
    await row.getByTestId("limit-save").click();
    await expect(page.getByTestId("staff-notice")).toContainText("at most 1 waiting");

    const phone = await (await browser.newContext()).newPage();
    const base = new URL(page.url()).origin;
    const join = await request.post(`${base}/api/v1/venues/demo/queues/tables-small/tickets`, {
      data: { name: `First ${tag()}`, party_size: 2 },
    });
    expect(join.status()).toBe(201);
    await phone.goto(`${base}/v/demo`);
    const option = phone.getByTestId("join-queue-tables-small");
    await expect(option).toBeDisabled();
    await expect(phone.locator(".queue-option", { has: option })).toContainText("Full right now");
  } finally {
    await request.post("/api/v1/venues/demo/queues/tables-small/limit", {
      headers: { Authorization: `Bearer ${api.token}` },
      data: { max_waiting: null },
    });
  }
});

test("recent activity shows who did what, live", async ({ page, request }) => {
  const api = await StaffApi.login(request);
  await staffLogin(page);
  await openSettings(page);
  const activity = page.getByTestId("activity");
  await expect(activity).toBeVisible();
  await api.queueAction("tables-large", "pause");
  try {
    await expect(activity.getByTestId("activity-row").first()).toContainText("queue paused · owner@demo.fila");
  } finally {
    await api.queueAction("tables-large", "resume");
  }
  await expect(activity.getByTestId("activity-row").first()).toContainText("queue open");
});

test("an owner adds a queue and a counter on the settings page; they work at once", async ({ page, request }) => {
  await staffLogin(page);
  await openSettings(page);
  const queues = page.getByTestId("queue-settings");
  const slug = `q-${tag()}`.toLowerCase().replace(/[^a-z0-9-]/g, "").slice(0, 30);
  await queues.getByTestId("new-queue-name").fill("Pop-up");
  await queues.getByTestId("new-queue-slug").fill(slug);
  await queues.getByTestId("new-queue-prefix").fill("p");
  await queues.getByTestId("add-queue").click();
  await expect(page.getByTestId("staff-notice")).toContainText("Added queue Pop-up");
  await expect(page.getByTestId(`queue-settings-${slug}`)).toBeVisible();

  const counters = page.getByTestId("counters-settings");
  const counter = `Desk ${tag()}`;
  await counters.getByTestId("new-counter-name").fill(counter);
  await counters.getByTestId("add-counter").click();
  await expect(page.getByTestId("staff-notice")).toContainText(`Added counter ${counter}`);
  await expect(page.getByTestId("counter-select").locator("option", { hasText: counter })).toHaveCount(1);

  // A customer can join the new queue right away.
  const join = await request.post(`/api/v1/venues/demo/queues/${slug}/tickets`, {
    data: { name: "First", party_size: 1 },
  });
  expect(join.status()).toBe(201);
  expect((await join.json()).number).toBe("P001");

  // Back on the queues page it is there, live.
  await page.getByTestId("open-queues").click();
  await expect(page.getByTestId(`queue-${slug}`)).toBeVisible();
});

test("settings: open hours close a queue to customers with the time it opens; then the queue is removed", async ({ page, browser, request }) => {
  const api = await StaffApi.login(request);
  await staffLogin(page);
  await openSettings(page);
  // A fresh queue, so the demo queues other tests use keep their settings.
  const queues = page.getByTestId("queue-settings");
  const slug = `h-${tag()}`.toLowerCase().replace(/[^a-z0-9-]/g, "").slice(0, 30);
  await queues.getByTestId("new-queue-name").fill(`Hours ${slug}`);
  await queues.getByTestId("new-queue-slug").fill(slug);
  await queues.getByTestId("new-queue-prefix").fill("H");
  await queues.getByTestId("add-queue").click();
  const editor = page.getByTestId(`queue-settings-${slug}`);
  await expect(editor).toBeVisible();

  // Hours on one day only, the day after tomorrow in the venue's zone (UTC): closed now.
  const days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
  const longDays = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
  const later = (new Date().getUTCDay() + 6 + 2) % 7; // JS: Sunday = 0
  await expect(editor.getByTestId("hours-any")).toBeVisible();
  await editor.getByTestId("hours-add").click();
  const row = editor.getByTestId("hours-row");
  await expect(row).toHaveCount(1);
  await row.getByTestId("hours-day").selectOption(days[later]);
  await row.getByTestId("hours-open").fill("18:00");
  await row.getByTestId("hours-close").fill("02:00");
  await editor.getByTestId("queue-name").fill(`Late ${slug}`);
  await editor.getByTestId("queue-save").click();
  await expect(page.getByTestId("staff-notice")).toContainText(`Saved Late ${slug}`);
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: path.join(SCREENSHOTS, "settings.png"), animations: "disabled" });

  // The phone sees the hours and, on joining, when the queue opens.
  const phone = await (await browser.newContext()).newPage();
  const base = new URL(page.url()).origin;
  await openHydrated(phone, `${base}/v/demo?queue=${slug}`, "join-submit");
  const option = phone.locator(".queue-option", { has: phone.getByTestId(`join-queue-${slug}`) });
  await expect(option.getByTestId("queue-hours")).toContainText("18:00–02:00");
  await phone.getByTestId("join-name").fill("Night owl");
  await phone.getByTestId("join-submit").click();
  await expect(phone.getByText(`opens ${longDays[later]} at 18:00`)).toBeVisible();

  // Staff can still add a walk-in; then the queue cannot be removed until it is empty.
  const walkIn = await request.post(`/api/v1/venues/demo/queues/${slug}/walk-ins`, {
    headers: { Authorization: `Bearer ${api.token}` },
    data: { name: "At the door", party_size: 2 },
  });
  expect(walkIn.status()).toBe(201);
  const ticket = await walkIn.json();
  const fresh = page.getByTestId(`queue-settings-${slug}`);
  await fresh.getByTestId("queue-remove").click();
  await expect(page.getByTestId("staff-error")).toContainText("still in this queue");
  await api.ticketAction(ticket.id, "cancel");
  await fresh.getByTestId("queue-remove").click();
  await expect(page.getByTestId("staff-notice")).toContainText(`Removed Late ${slug}`);
  await expect(page.getByTestId(`queue-settings-${slug}`)).toHaveCount(0);
});

test("settings: a counter is renamed and removed", async ({ page }) => {
  await staffLogin(page);
  await openSettings(page);
  const counters = page.getByTestId("counters-settings");
  const name = `Stool ${tag()}`;
  await counters.getByTestId("new-counter-name").fill(name);
  await counters.getByTestId("add-counter").click();
  const row = counters.locator(`[data-testid="counter-row"][data-name="${name}"]`);
  await expect(row).toHaveCount(1);
  await row.getByTestId("counter-name").fill(`${name} (window)`);
  await row.getByTestId("counter-rename").click();
  await expect(page.getByTestId("staff-notice")).toContainText(`Renamed to ${name} (window)`);
  const renamed = counters.locator(`[data-testid="counter-row"][data-name="${name} (window)"]`);
  await expect(renamed).toHaveCount(1);
  await renamed.getByTestId("counter-remove").click();
  await expect(page.getByTestId("staff-notice")).toContainText(`Removed ${name} (window)`);
  await expect(counters.locator(`[data-testid="counter-row"][data-name^="${name}"]`)).toHaveCount(0);
});
