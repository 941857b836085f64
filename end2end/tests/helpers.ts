// Shared by the specs: the demo venue's facts, a small REST client for staff actions, and
// the browser contexts each screen runs in.
//
// The server is shared by the whole run, so every test makes its own tickets and never
// assumes an empty queue: `resetVenue` puts the demo venue in a known state first.

import {
  expect,
  type APIRequestContext,
  type Browser,
  type BrowserContext,
  type BrowserContextOptions,
  type Page,
} from "@playwright/test";
import * as path from "node:path";

export const VENUE = "demo";
export const OWNER_EMAIL = "owner@demo.fila";
export const QUEUES = {
  bar: { name: "Bar", prefix: "A" },
  "tables-small": { name: "Tables 1-2", prefix: "B" },
  "tables-large": { name: "Tables 3+", prefix: "C" },
} as const;
export type QueueSlug = keyof typeof QUEUES;

/** Where screenshots go: the README's committed ones only when UPDATE_SCREENSHOTS=1, so an
 * ordinary test run leaves the work tree clean. */
export const SCREENSHOTS = process.env.UPDATE_SCREENSHOTS === "1"
  ? path.join(__dirname, "..", "screenshots")
  : path.join(__dirname, "..", "test-results", "screenshots");

export const PHONE: BrowserContextOptions = {
  viewport: { width: 360, height: 740 },
  isMobile: true,
  hasTouch: true,
  deviceScaleFactor: 2,
};
export const DESKTOP: BrowserContextOptions = { viewport: { width: 1440, height: 900 } };
export const TV: BrowserContextOptions = { viewport: { width: 1920, height: 1080 } };

export function ownerPassword(): string {
  const p = process.env.FILA_E2E_OWNER_PASSWORD;
  if (!p) {
    throw new Error("FILA_E2E_OWNER_PASSWORD must hold the demo owner's password (see scripts/test.sh)");
  }
  return p;
}

/** A short suffix that makes names unique across tests and runs. */
export function tag(): string {
  return `${Date.now().toString(36).slice(-4)}${Math.floor(Math.random() * 1296)
    .toString(36)
    .padStart(2, "0")}`;
}

// ---- REST -------------------------------------------------------------------------------

export interface Ticket {
  id: number;
  number: string;
  token?: string;
  status: string;
  position: number | null;
  eta_seconds: number | null;
  queue: string;
  queue_name: string;
  name: string;
  party_size: number;
  notes: string | null;
  counter: string | null;
  calls: number;
}

export interface Counter {
  id: number;
  name: string;
}

export interface StaffSnapshot {
  offset: number;
  counters: Counter[];
  queues: Array<{ slug: string; name: string; status: string; waiting: number; tickets: Ticket[] }>;
}

let cachedToken: string | undefined;

/** Staff actions over the REST API, signed in as the demo owner. */
export class StaffApi {
  private constructor(
    private readonly request: APIRequestContext,
    readonly token: string,
  ) {}

  static async login(request: APIRequestContext): Promise<StaffApi> {
    if (!cachedToken) {
      const res = await request.post("/api/v1/auth/login", {
        data: { email: OWNER_EMAIL, password: ownerPassword() },
      });
      expect(res.status(), `login: ${await res.text()}`).toBe(200);
      cachedToken = (await res.json()).token as string;
    }
    return new StaffApi(request, cachedToken);
  }

  private headers() {
    return { Authorization: `Bearer ${this.token}` };
  }

  private async post(url: string, data: unknown = {}, ok: number[] = [200, 201]) {
    const res = await this.request.post(url, { data, headers: this.headers() });
    if (!ok.includes(res.status())) {
      throw new Error(`POST ${url} -> ${res.status()}: ${await res.text()}`);
    }
    return res;
  }

  async snapshot(): Promise<StaffSnapshot> {
    const res = await this.request.get(`/api/v1/venues/${VENUE}/queues`, { headers: this.headers() });
    expect(res.status()).toBe(200);
    return (await res.json()) as StaffSnapshot;
  }

  async counter(name: string): Promise<Counter> {
    const c = (await this.snapshot()).counters.find((c) => c.name === name);
    if (!c) throw new Error(`no counter named ${name}`);
    return c;
  }

  /** Join as a customer would (public endpoint); the answer carries the token. */
  async join(queue: string, name: string, partySize = 2): Promise<Ticket> {
    const res = await this.request.post(`/api/v1/venues/${VENUE}/queues/${queue}/tickets`, {
      data: { name, party_size: partySize },
    });
    if (res.status() !== 201) throw new Error(`join ${queue} -> ${res.status()}: ${await res.text()}`);
    return (await res.json()) as Ticket;
  }

  async ticket(token: string): Promise<Ticket> {
    const res = await this.request.get(`/api/v1/tickets/${token}`);
    expect(res.status()).toBe(200);
    return (await res.json()) as Ticket;
  }

  /** Call whoever is first; `null` when nobody is waiting (409 nobody_waiting). */
  async callNext(queue: string, counterId: number): Promise<Ticket | null> {
    const res = await this.post(
      `/api/v1/venues/${VENUE}/queues/${queue}/call-next`,
      { counter: counterId },
      [200, 409],
    );
    if (res.status() === 409) {
      expect((await res.json()).error.code).toBe("nobody_waiting");
      return null;
    }
    return (await res.json()) as Ticket;
  }

  async ticketAction(id: number, action: string, body: unknown = {}): Promise<Ticket> {
    return (await (await this.post(`/api/v1/venues/${VENUE}/tickets/${id}/${action}`, body)).json()) as Ticket;
  }

  async queueAction(queue: QueueSlug, action: "pause" | "resume" | "close"): Promise<void> {
    await this.post(`/api/v1/venues/${VENUE}/queues/${queue}/${action}`);
  }

  /** Add a queue to the demo venue (owner). */
  async addQueue(slug: string, name: string, prefix: string): Promise<void> {
    await this.post(`/api/v1/venues/${VENUE}/queues`, { slug, name, prefix });
  }

  /** Remove an empty queue (owner). */
  async removeQueue(slug: string): Promise<void> {
    const res = await this.request.delete(`/api/v1/venues/${VENUE}/queues/${slug}`, { headers: this.headers() });
    if (res.status() !== 204) throw new Error(`DELETE queue ${slug} -> ${res.status()}: ${await res.text()}`);
  }

  /** Every queue open and empty, nobody at a counter. */
  async resetVenue(): Promise<void> {
    const snap = await this.snapshot();
    for (const q of snap.queues) {
      if (q.status !== "open") await this.queueAction(q.slug as QueueSlug, "resume");
      for (const t of q.tickets) {
        if (t.status === "waiting") await this.ticketAction(t.id, "cancel");
        else if (t.status === "called" || t.status === "serving") await this.ticketAction(t.id, "serve");
      }
    }
    const after = await this.snapshot();
    for (const q of after.queues) {
      expect(q.tickets, `queue ${q.slug} after reset`).toEqual([]);
    }
  }
}

// ---- browser ----------------------------------------------------------------------------

/** A new context with the given device options; closed by the caller. */
export async function screen(browser: Browser, options: BrowserContextOptions): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  return { context, page };
}

/**
 * Open a server-rendered page and wait until the browser app has taken it over (`<html
 * data-hydrated>`) and `readyTestId` is enabled, so the test drives the app itself. Tests of
 * what works before that (the phone pages' plain forms) are in no-script.spec.ts.
 */
export async function openHydrated(page: Page, url: string, readyTestId: string): Promise<void> {
  await page.goto(url);
  // The app marks <html data-hydrated> once it has taken over. The phone pages' forms work
  // before that (the browser posts them), so an enabled button alone does not say it.
  await expect(page.locator("html[data-hydrated]")).toHaveCount(1);
  await expect(page.getByTestId(readyTestId)).toBeEnabled();
}

/** Sign in on /staff and land on the demo dashboard with its queues shown. */
export async function staffLogin(page: Page): Promise<void> {
  await openHydrated(page, "/staff", "login-submit");
  await page.getByTestId("login-email").fill(OWNER_EMAIL);
  await page.getByTestId("login-password").fill(ownerPassword());
  await page.getByTestId("login-submit").click();
  await expect(page).toHaveURL(/\/staff\/demo$/);
  await expect(page.getByTestId("queue-bar")).toBeVisible();
  await expect(page.getByTestId("connection")).toHaveAttribute("data-state", "live");
}

/** From the dashboard, open the settings page through its link. */
export async function openSettings(page: Page): Promise<void> {
  await page.getByTestId("open-settings").click();
  await expect(page).toHaveURL(/\/staff\/demo\/settings$/);
  await expect(page.getByTestId("settings-page")).toBeVisible();
  await expect(page.getByTestId("connection")).toHaveAttribute("data-state", "live");
}

/** On /v/demo: pick a queue, fill the form, join, and land on the ticket page. */
export async function joinFromPhone(
  page: Page,
  queue: QueueSlug,
  name: string,
  party = 2,
  beforeSubmit?: () => Promise<void>,
): Promise<{ token: string; number: string }> {
  await openHydrated(page, `/v/${VENUE}?queue=${queue}`, "join-submit");
  await expect(page.getByTestId(`join-queue-${queue}`)).toBeChecked();
  await page.getByTestId("join-name").fill(name);
  await page.getByTestId("join-party").fill(String(party));
  if (beforeSubmit) await beforeSubmit();
  await page.getByTestId("join-submit").click();
  await expect(page).toHaveURL(/\/t\/[^/]+$/);
  const token = new URL(page.url()).pathname.split("/").pop()!;
  const number = page.getByTestId("ticket-number");
  await expect(number).toHaveText(new RegExp(`^${QUEUES[queue].prefix}\\d+$`));
  return { token, number: (await number.textContent())!.trim() };
}

/** The staff dashboard's row for a ticket number (waiting or at a counter). */
export function staffRow(page: Page, number: string) {
  return page.locator(`[data-testid="ticket-row"][data-number="${number}"]`);
}
