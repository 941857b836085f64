//! `/staff` (login) and `/staff/:venue` (the dashboard).

use super::common::{
    ConnectionBadge, Loading, format_elapsed, queue_status_label, staff_status_label, use_hydrated,
    use_param,
};
use crate::client::{
    self, ApiError, ConnState, LiveSocket, STAFF_COUNTER_KEY, STAFF_TOKEN_KEY, api_get, api_post,
};
use crate::protocol::{
    JoinRequest, LoginRequest, LoginResponse, MeResponse, StaffQueue, StaffSnapshot, TicketView,
    VenueMessage, format_wait,
};
use leptos::{ev::SubmitEvent, prelude::*, task::spawn_local};
use leptos_meta::Title;
use leptos_router::hooks::use_navigate;
use serde::de::IgnoredAny;
use serde_json::json;
use std::time::Duration;

// ---- login -------------------------------------------------------------------------

#[component]
pub fn LoginPage() -> impl IntoView {
    let hydrated = use_hydrated();
    let navigate = use_navigate();
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let me = RwSignal::new(None::<MeResponse>);

    // Already signed in on this device? Offer the way back in.
    Effect::new(move |_| {
        if client::storage_get(STAFF_TOKEN_KEY).is_some() {
            spawn_local(async move {
                if let Ok(m) = api_get::<MeResponse>("/api/v1/auth/me").await {
                    me.try_set(Some(m));
                }
            });
        }
    });

    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let body = LoginRequest {
            email: email.get_untracked().trim().to_string(),
            password: password.get_untracked(),
        };
        if body.email.is_empty() || body.password.is_empty() {
            error.set(Some("Enter your email and password.".into()));
            return;
        }
        error.set(None);
        busy.set(true);
        let navigate = navigate.clone();
        spawn_local(async move {
            // A stale token must not get in the way of a fresh login.
            client::storage_remove(STAFF_TOKEN_KEY);
            match api_post::<LoginResponse>("/api/v1/auth/login", &body).await {
                Ok(r) => {
                    client::storage_set(STAFF_TOKEN_KEY, &r.token);
                    match r.venues.first() {
                        Some(v) => navigate(&format!("/staff/{}", v.slug), Default::default()),
                        None => {
                            error.try_set(Some(
                                "This account does not work at any venue yet.".into(),
                            ));
                            busy.try_set(false);
                        }
                    }
                }
                Err(e) => {
                    error.try_set(Some(e.message));
                    busy.try_set(false);
                }
            }
        });
    };

    view! {
        <Title text="Staff login"/>
        <main class="page narrow login-page">
            <a class="brand small" href="/">"Fila"</a>
            <h1>"Staff login"</h1>
            {move || me.get().map(|m| view! {
                <div class="notice">
                    <p>{format!("You are signed in as {}.", m.email)}</p>
                    <ul class="link-list">
                        {m.venues.into_iter().map(|v| view! {
                            <li><a href=format!("/staff/{}", v.slug)>{format!("Open {}", v.name)}</a></li>
                        }).collect_view()}
                    </ul>
                </div>
            })}
            <form class="card" on:submit=on_submit novalidate>
                <label class="field">
                    <span>"Email"</span>
                    <input
                        type="email"
                        data-testid="login-email"
                        autocomplete="username"
                        required
                        // Typing before the app takes over would be wiped by hydration.
                        disabled=move || !hydrated.get()
                        bind:value=email
                    />
                </label>
                <label class="field">
                    <span>"Password"</span>
                    <input
                        type="password"
                        data-testid="login-password"
                        disabled=move || !hydrated.get()
                        autocomplete="current-password"
                        required
                        bind:value=password
                    />
                </label>
                {move || error.get().map(|e| view! { <p class="form-error" data-testid="login-error" role="alert">{e}</p> })}
                <button
                    type="submit"
                    class="button primary big"
                    data-testid="login-submit"
                    disabled=move || !hydrated.get() || busy.get()
                >
                    {move || if busy.get() { "Signing in…" } else { "Sign in" }}
                </button>
            </form>
        </main>
    }
}

// ---- dashboard ---------------------------------------------------------------------

/// The dashboard's state; `Copy`, so every handler can take it along.
#[derive(Clone, Copy)]
struct Dash {
    venue: Memo<String>,
    snap: RwSignal<Option<StaffSnapshot>>,
    conn: RwSignal<ConnState>,
    counter: RwSignal<Option<i64>>,
    error: RwSignal<Option<String>>,
    notice: RwSignal<Option<String>>,
    signed_out: RwSignal<bool>,
    /// Why the dashboard could not be loaded at all (e.g. not staff at this venue).
    load_error: RwSignal<Option<String>>,
    /// Ticks so that "waited" times stay current.
    now: RwSignal<i64>,
}

impl Dash {
    fn base(self) -> String {
        format!("/api/v1/venues/{}", self.venue.get_untracked())
    }

    /// Take a snapshot if it is not older than the one shown.
    fn apply(self, s: StaffSnapshot) {
        let newer = self
            .snap
            .try_with_untracked(|cur| {
                cur.as_ref()
                    .is_none_or(|c| s.offset >= c.offset || c.venue != s.venue)
            })
            .unwrap_or(false);
        if !newer {
            return;
        }
        let Some(chosen) = self.counter.try_get_untracked() else {
            return;
        };
        // Keep the chosen counter, else the remembered one, else the first one.
        let pick = {
            if chosen.is_some_and(|c| s.counters.iter().any(|x| x.id == c)) {
                chosen
            } else {
                let stored =
                    client::storage_get(STAFF_COUNTER_KEY).and_then(|v| v.parse::<i64>().ok());
                stored
                    .filter(|c| s.counters.iter().any(|x| x.id == *c))
                    .or_else(|| s.counters.first().map(|c| c.id))
            }
        };
        if pick != chosen {
            self.counter.set(pick);
        }
        self.snap.set(Some(s));
    }

    fn refresh(self) {
        let path = format!("{}/queues", self.base());
        spawn_local(async move {
            match api_get::<StaffSnapshot>(&path).await {
                Ok(s) => self.apply(s),
                Err(e)
                    if !e.is_unauthorized()
                        && self.snap.try_with_untracked(Option::is_none) == Some(true) =>
                {
                    self.load_error.try_set(Some(e.message));
                }
                Err(e) => self.fail(e),
            }
        });
    }

    fn fail(self, e: ApiError) {
        if e.is_unauthorized() {
            self.signed_out.try_set(true);
            return;
        }
        let msg = e.message;
        self.error.try_set(Some(msg.clone()));
        set_timeout(
            move || {
                if self.error.try_get_untracked().flatten().as_deref() == Some(msg.as_str()) {
                    self.error.try_set(None);
                }
            },
            Duration::from_secs(8),
        );
    }

    fn notify(self, msg: String) {
        self.notice.try_set(Some(msg.clone()));
        set_timeout(
            move || {
                if self.notice.try_get_untracked().flatten().as_deref() == Some(msg.as_str()) {
                    self.notice.try_set(None);
                }
            },
            Duration::from_secs(5),
        );
    }

    /// POST an action; errors go to the toast. The socket brings the new picture; without
    /// it, fetch one.
    fn post(self, path: String, body: serde_json::Value) {
        self.error.set(None);
        spawn_local(async move {
            match api_post::<IgnoredAny>(&path, &body).await {
                Ok(_) => {
                    if self.conn.try_get_untracked() != Some(ConnState::Live) {
                        self.refresh();
                    }
                }
                Err(e) => self.fail(e),
            }
        });
    }

    fn ticket_action(self, id: u64, action: &str, body: serde_json::Value) {
        self.post(format!("{}/tickets/{id}/{action}", self.base()), body);
    }

    fn queue_action(self, queue: &str, action: &str, body: serde_json::Value) {
        self.post(format!("{}/queues/{queue}/{action}", self.base()), body);
    }

    /// Body `{"counter": id}`, or a toast if no counter is chosen.
    fn counter_body(self) -> Option<serde_json::Value> {
        match self.counter.get_untracked() {
            Some(id) => Some(json!({ "counter": id })),
            None => {
                self.error.set(Some("Choose your counter first.".into()));
                None
            }
        }
    }

    fn call_next(self, queue: &str) {
        if let Some(body) = self.counter_body() {
            self.queue_action(queue, "call-next", body);
        }
    }

    fn call(self, id: u64) {
        if let Some(body) = self.counter_body() {
            self.ticket_action(id, "call", body);
        }
    }
}

#[component]
pub fn DashboardPage() -> impl IntoView {
    let venue = use_param("venue");
    let navigate = use_navigate();
    let d = Dash {
        venue,
        snap: RwSignal::new(None),
        conn: RwSignal::new(ConnState::Connecting),
        counter: RwSignal::new(None),
        error: RwSignal::new(None),
        notice: RwSignal::new(None),
        signed_out: RwSignal::new(false),
        load_error: RwSignal::new(None),
        now: RwSignal::new(0),
    };
    let me = RwSignal::new(None::<MeResponse>);

    Effect::new(move |_| {
        if d.signed_out.get() {
            client::storage_remove(STAFF_TOKEN_KEY);
            navigate("/staff", Default::default());
        }
    });

    Effect::new(move |_| {
        d.now.set(client::now_ms());
        let tick =
            set_interval_with_handle(move || d.now.set(client::now_ms()), Duration::from_secs(15))
                .ok();
        on_cleanup(move || {
            if let Some(t) = tick {
                t.clear();
            }
        });
    });

    Effect::new(move |_| {
        let slug = venue.get();
        d.snap.set(None);
        d.load_error.set(None);
        spawn_local(async move {
            match api_get::<MeResponse>("/api/v1/auth/me").await {
                Ok(m) => {
                    me.try_set(Some(m));
                }
                Err(e) if e.is_unauthorized() => {
                    d.signed_out.try_set(true);
                }
                Err(_) => {}
            }
        });
        d.refresh();
        let socket = LiveSocket::open(
            move || format!("/api/v1/venues/{slug}/ws"),
            move |text| {
                if let Ok(VenueMessage::Snapshot { data, .. }) =
                    serde_json::from_str::<VenueMessage<StaffSnapshot>>(&text)
                {
                    d.apply(data);
                }
            },
            move |s| {
                let was = d.conn.try_get_untracked();
                d.conn.set(s);
                // Dropped: fetch once, both to stay current and to notice a lost login.
                if s == ConnState::Offline && was == Some(ConnState::Live) {
                    d.refresh();
                }
            },
        );
        on_cleanup(move || socket.close());
    });

    let logout = move |_| {
        spawn_local(async move {
            let _ = api_post::<IgnoredAny>("/api/v1/auth/logout", &json!({})).await;
            d.signed_out.try_set(true);
        });
    };

    let venue_name = move || {
        d.snap
            .with(|s| s.as_ref().map(|s| s.venue_name.clone()).unwrap_or_default())
    };

    let counters = Memo::new(move |_| {
        d.snap
            .with(|s| s.as_ref().map(|s| s.counters.clone()).unwrap_or_default())
    });
    let counter_select = move || {
        counters.with(|counters| {
            let counters = counters.clone();
            view! {
                <label class="inline-field">
                    <span>"My counter"</span>
                    <select
                        data-testid="counter-select"
                        on:change=move |ev| {
                            let v = event_target_value(&ev);
                            client::storage_set(STAFF_COUNTER_KEY, &v);
                            d.counter.set(v.parse().ok());
                        }
                    >
                        {counters.into_iter().map(|c| {
                            let id = c.id;
                            view! {
                                <option value=id.to_string() prop:selected=move || d.counter.get() == Some(id)>{c.name}</option>
                            }
                        }).collect_view()}
                    </select>
                </label>
            }
        })
    };

    let venue_switch = move || {
        me.with(|m| {
            m.as_ref().filter(|m| m.venues.len() > 1).map(|m| {
                let current = venue.get();
                view! {
                    <nav class="venue-switch">
                        {m.venues.iter().map(|v| {
                            let here = v.slug == current;
                            view! { <a href=format!("/staff/{}", v.slug) class:current=here>{v.name.clone()}</a> }
                        }).collect_view()}
                    </nav>
                }
            })
        })
    };

    let queue_slugs = move || {
        d.snap.with(|s| {
            s.as_ref()
                .map(|s| {
                    s.queues
                        .iter()
                        .map(|q| q.summary.slug.clone())
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        })
    };

    let loaded = Memo::new(move |_| d.snap.with(|s| s.is_some()));
    let main = move || {
        if !loaded.get() {
            return match d.load_error.get() {
                Some(e) => view! {
                    <div class="card narrow">
                        <p class="form-error" role="alert">{e}</p>
                        <p><a href="/staff">"Back to the login page"</a></p>
                    </div>
                }
                .into_any(),
                None => view! { <Loading/> }.into_any(),
            };
        }
        view! {
            <div class="dash-grid">
                <div class="dash-queues">
                    <For each=queue_slugs key=|slug| slug.clone() let:slug>
                        <QueuePanel d=d slug=slug/>
                    </For>
                </div>
                <aside class="dash-side">
                    <NowServing d=d/>
                    <NoShows d=d/>
                    <WalkInForm d=d/>
                </aside>
            </div>
        }
        .into_any()
    };

    view! {
        <Title text=move || { let n = venue_name(); if n.is_empty() { "Dashboard".to_string() } else { format!("{n} · Staff") } }/>
        <div class="dashboard">
            <header class="dash-header">
                <div class="dash-title">
                    <a class="brand small" href="/">"Fila"</a>
                    <h1>{venue_name}</h1>
                    <ConnectionBadge state=d.conn/>
                </div>
                <div class="dash-tools">
                    {counter_select}
                    <a class="button subtle" href=move || format!("/display/{}", venue.get()) target="_blank">"Venue screen"</a>
                    <a class="button subtle" href=move || format!("/v/{}", venue.get()) target="_blank">"Join page"</a>
                    <span class="who">{move || me.with(|m| m.as_ref().map(|m| m.email.clone()).unwrap_or_default())}</span>
                    <button class="button subtle" data-testid="logout" on:click=logout>"Log out"</button>
                </div>
                {venue_switch}
            </header>
            <main class="dash-main">{main}</main>
            <div class="toasts" aria-live="assertive">
                {move || d.error.get().map(|e| view! {
                    <div class="toast error" data-testid="staff-error" role="alert">
                        <span>{e}</span>
                        <button class="toast-close" aria-label="Dismiss" on:click=move |_| d.error.set(None)>"×"</button>
                    </div>
                })}
                {move || d.notice.get().map(|n| view! {
                    <div class="toast ok" data-testid="staff-notice" role="status">{n}</div>
                })}
            </div>
        </div>
    }
}

fn find_queue<'a>(s: &'a Option<StaffSnapshot>, slug: &str) -> Option<&'a StaffQueue> {
    s.as_ref()?.queues.iter().find(|q| q.summary.slug == slug)
}

/// Key for a ticket row: re-render the row when anything shown on it changes.
fn row_key(t: &TicketView) -> (u64, String, Option<String>, String, u32, Option<u32>) {
    (
        t.id,
        t.status.clone(),
        t.counter.clone(),
        t.queue.clone(),
        t.calls,
        t.position,
    )
}

#[component]
fn QueuePanel(d: Dash, slug: String) -> impl IntoView {
    let q = {
        let slug = slug.clone();
        Memo::new(move |_| {
            d.snap
                .with(|s| find_queue(s, &slug).map(|q| q.summary.clone()))
        })
    };
    let waiting = {
        let slug = slug.clone();
        move || {
            d.snap.with(|s| {
                find_queue(s, &slug)
                    .map(|q| {
                        q.tickets
                            .iter()
                            .filter(|t| t.status == "waiting")
                            .cloned()
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default()
            })
        }
    };
    let status =
        Memo::new(move |_| q.with(|q| q.as_ref().map(|q| q.status.clone()).unwrap_or_default()));
    let status = move || status.get();
    let empty = {
        let waiting = waiting.clone();
        Memo::new(move |_| waiting().is_empty())
    };
    let s1 = slug.clone();
    let s2 = slug.clone();
    let s3 = slug.clone();
    let s4 = slug.clone();

    view! {
        <section class="queue-panel" data-testid=format!("queue-{slug}") data-status=status>
            <header class="queue-head">
                <div>
                    <h2>{move || q.with(|q| q.as_ref().map(|q| q.name.clone()).unwrap_or_default())}</h2>
                    <p class="queue-meta">
                        <span class=move || format!("pill {}", status())>{move || queue_status_label(&status())}</span>
                        <span data-testid="waiting-count">{move || q.with(|q| q.as_ref().map(|q| format!("{} waiting", q.waiting)).unwrap_or_default())}</span>
                        <span>{move || q.with(|q| q.as_ref().map(|q| format!("wait {}", format_wait(q.eta_seconds))).unwrap_or_default())}</span>
                    </p>
                </div>
                <div class="queue-buttons">
                    {move || if status() == "open" {
                        let s = s1.clone();
                        view! { <button class="button" data-testid=format!("pause-{s}") on:click=move |_| d.queue_action(&s, "pause", json!({}))>"Pause"</button> }.into_any()
                    } else {
                        let s = s1.clone();
                        view! { <button class="button" data-testid=format!("resume-{s}") on:click=move |_| d.queue_action(&s, "resume", json!({}))>{if status() == "closed" { "Open" } else { "Resume" }}</button> }.into_any()
                    }}
                    {move || (status() != "closed").then(|| {
                        let s = s2.clone();
                        view! { <button class="button subtle" data-testid=format!("close-{s}") on:click=move |_| d.queue_action(&s, "close", json!({}))>"Close for the day"</button> }
                    })}
                </div>
            </header>
            <button class="button primary huge call-next" data-testid=format!("call-next-{slug}") on:click=move |_| d.call_next(&s3)>
                "Call next"
            </button>
            <ul class="ticket-list">
                <For each=waiting key=row_key let:t>
                    <WaitingRow d=d t=t queue=s4.clone()/>
                </For>
            </ul>
            {move || empty.get().then(|| view! { <p class="empty">"Nobody waiting."</p> })}
        </section>
    }
}

#[component]
fn WaitingRow(d: Dash, t: TicketView, queue: String) -> impl IntoView {
    let id = t.id;
    let joined = t.joined_at;
    let others = move || {
        d.snap.with(|s| {
            s.as_ref()
                .map(|s| {
                    s.queues
                        .iter()
                        .filter(|q| q.summary.slug != queue)
                        .map(|q| (q.summary.slug.clone(), q.summary.name.clone()))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        })
    };
    let initial = others().first().map(|(s, _)| s.clone()).unwrap_or_default();
    let target = RwSignal::new(initial);
    let has_others = !others().is_empty();

    view! {
        <li class="ticket-row" data-testid="ticket-row" data-number=t.number.clone() data-status=t.status.clone()>
            <div class="row-main">
                <span class="row-number">{t.number.clone()}</span>
                <span class="row-name">{t.name.clone()}</span>
                <span class="row-party" title="Party size">{format!("party of {}", t.party_size)}</span>
                <span class="row-waited">{move || format_elapsed(d.now.get() - joined)}</span>
                {t.walk_in.then(|| view! { <span class="pill muted">"walk-in"</span> })}
            </div>
            {t.notes.clone().filter(|n| !n.is_empty()).map(|n| view! { <p class="row-notes">{n}</p> })}
            <div class="row-actions">
                <button class="button small primary" data-testid="action-call" on:click=move |_| d.call(id)>"Call"</button>
                <button class="button small" data-testid="action-front" on:click=move |_| d.ticket_action(id, "requeue", json!({ "to": "front" }))>"To front"</button>
                {has_others.then(|| view! {
                    <span class="move-group">
                        <select data-testid="move-target" aria-label="Move to queue" on:change=move |ev| target.set(event_target_value(&ev))>
                            {others().into_iter().map(|(slug, name)| {
                                let s = slug.clone();
                                view! { <option value=slug prop:selected=move || target.get() == s>{name}</option> }
                            }).collect_view()}
                        </select>
                        <button class="button small" data-testid="action-move" on:click=move |_| {
                            d.ticket_action(id, "move", json!({ "queue": target.get_untracked(), "to": "back" }))
                        }>"Move"</button>
                    </span>
                })}
                <button class="button small danger" data-testid="action-cancel" on:click=move |_| d.ticket_action(id, "cancel", json!({}))>"Cancel"</button>
            </div>
        </li>
    }
}

#[component]
fn NowServing(d: Dash) -> impl IntoView {
    let rows = move || {
        d.snap.with(|s| {
            let mut v: Vec<TicketView> = s
                .as_ref()
                .map(|s| {
                    s.queues
                        .iter()
                        .flat_map(|q| q.tickets.iter())
                        .filter(|t| t.status == "called" || t.status == "serving")
                        .cloned()
                        .collect()
                })
                .unwrap_or_default();
            v.sort_by_key(|t| std::cmp::Reverse(t.called_at));
            v
        })
    };
    let empty = Memo::new(move |_| rows().is_empty());
    view! {
        <section class="card now-serving" data-testid="now-serving">
            <h2>"Now serving"</h2>
            <ul class="ticket-list">
                <For each=rows key=row_key let:t>
                    <ServingRow d=d t=t/>
                </For>
            </ul>
            {move || empty.get().then(|| view! { <p class="empty">"No one at a counter."</p> })}
        </section>
    }
}

#[component]
fn ServingRow(d: Dash, t: TicketView) -> impl IntoView {
    let id = t.id;
    let called = t.status == "called";
    view! {
        <li class="ticket-row" data-testid="ticket-row" data-number=t.number.clone() data-status=t.status.clone()>
            <div class="row-main">
                <span class="row-number">{t.number.clone()}</span>
                <span class="row-name">{t.name.clone()}</span>
                <span class="row-party" title="Party size">{format!("party of {}", t.party_size)}</span>
                <span class=format!("pill {}", t.status)>{staff_status_label(&t.status)}</span>
            </div>
            <p class="row-counter">
                {t.counter.clone().map(|c| format!("at {c}")).unwrap_or_default()}
                {(t.calls > 1).then(|| format!(" · called {}×", t.calls))}
                " · "{t.queue_name.clone()}
            </p>
            <div class="row-actions">
                {called.then(|| view! {
                    <button class="button small" data-testid="action-recall" on:click=move |_| d.ticket_action(id, "recall", json!({}))>"Recall"</button>
                    <button class="button small primary" data-testid="action-start" on:click=move |_| d.ticket_action(id, "start", json!({}))>"Start serving"</button>
                })}
                <button class="button small primary" data-testid="action-serve" on:click=move |_| d.ticket_action(id, "serve", json!({}))>"Served"</button>
                {called.then(|| view! {
                    <button class="button small danger" data-testid="action-no-show" on:click=move |_| d.ticket_action(id, "no-show", json!({}))>"No-show"</button>
                    <button class="button small" data-testid="action-requeue" on:click=move |_| d.ticket_action(id, "requeue", json!({ "to": "front" }))>"Back to queue"</button>
                })}
            </div>
        </li>
    }
}

/// Today's no-shows: someone who turns up late can be put back at the front.
#[component]
fn NoShows(d: Dash) -> impl IntoView {
    let rows = move || {
        d.snap.with(|s| {
            s.as_ref()
                .map(|s| {
                    s.queues
                        .iter()
                        .flat_map(|q| q.tickets.iter())
                        .filter(|t| t.status == "no_show")
                        .cloned()
                        .collect::<Vec<TicketView>>()
                })
                .unwrap_or_default()
        })
    };
    let empty = Memo::new(move |_| rows().is_empty());
    view! {
        <section class="card no-shows" data-testid="no-shows" class:hidden=move || empty.get()>
            <h2>"No-shows today"</h2>
            <ul class="ticket-list">
                <For each=rows key=row_key let:t>
                    <li class="ticket-row" data-testid="ticket-row" data-number=t.number.clone() data-status=t.status.clone()>
                        <div class="row-main">
                            <span class="row-number">{t.number.clone()}</span>
                            <span class="row-name">{t.name.clone()}</span>
                            <span class="row-party" title="Party size">{format!("party of {}", t.party_size)}</span>
                        </div>
                        <div class="row-actions">
                            <button class="button small" data-testid="action-requeue" on:click={
                                let id = t.id;
                                move |_| d.ticket_action(id, "requeue", json!({ "to": "front" }))
                            }>"Back to queue (front)"</button>
                        </div>
                    </li>
                </For>
            </ul>
        </section>
    }
}

#[component]
fn WalkInForm(d: Dash) -> impl IntoView {
    let queue = RwSignal::new(String::new());
    let name = RwSignal::new(String::new());
    let party = RwSignal::new("2".to_string());
    let busy = RwSignal::new(false);
    let queues = Memo::new(move |_| {
        d.snap.with(|s| {
            s.as_ref()
                .map(|s| {
                    s.queues
                        .iter()
                        .map(|q| (q.summary.slug.clone(), q.summary.name.clone()))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        })
    });
    let queues = move || queues.get();
    // Default to the first queue.
    Effect::new(move |_| {
        let qs = queues();
        if !qs.iter().any(|(s, _)| *s == queue.get_untracked())
            && let Some((s, _)) = qs.first()
        {
            queue.set(s.clone());
        }
    });

    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let person = name.get_untracked().trim().to_string();
        if person.is_empty() {
            d.error.set(Some("Enter the customer's name.".into()));
            return;
        }
        let Ok(party_size) = party.get_untracked().trim().parse::<i64>() else {
            d.error
                .set(Some("Party size must be between 1 and 20.".into()));
            return;
        };
        let q = queue.get_untracked();
        let path = format!("{}/queues/{q}/walk-ins", d.base());
        let body = JoinRequest {
            name: person,
            party_size,
            notes: None,
        };
        busy.set(true);
        d.error.set(None);
        spawn_local(async move {
            match api_post::<TicketView>(&path, &body).await {
                Ok(t) => {
                    name.try_set(String::new());
                    d.notify(format!("Added {} to {}", t.number, t.queue_name));
                    if d.conn.try_get_untracked() != Some(ConnState::Live) {
                        d.refresh();
                    }
                }
                Err(e) => d.fail(e),
            }
            busy.try_set(false);
        });
    };

    view! {
        <form class="card walk-in" on:submit=on_submit novalidate>
            <h2>"Add a walk-in"</h2>
            <label class="field">
                <span>"Queue"</span>
                <select data-testid="walkin-queue" on:change=move |ev| queue.set(event_target_value(&ev))>
                    {move || queues().into_iter().map(|(slug, qname)| {
                        let s = slug.clone();
                        view! { <option value=slug prop:selected=move || queue.get() == s>{qname}</option> }
                    }).collect_view()}
                </select>
            </label>
            <label class="field">
                <span>"Name"</span>
                <input type="text" data-testid="walkin-name" maxlength="80" bind:value=name/>
            </label>
            <label class="field">
                <span>"Party size"</span>
                <input type="number" data-testid="walkin-party" min="1" max="20" bind:value=party/>
            </label>
            <button type="submit" class="button primary" data-testid="walkin-submit" disabled=move || busy.get()>
                "Add to queue"
            </button>
        </form>
    }
}
