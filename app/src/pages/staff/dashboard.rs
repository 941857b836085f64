//! `/staff/:venue` (the queues) and `/staff/:venue/settings`: loading the venue, keeping it
//! live, and the shared `Dash` handle both pages' parts use.

use super::at_counters::{NoShows, NowServing};
use super::dead_letters::DeadLetters;
use super::queue_panel::QueuePanel;
use super::settings::SettingsGrid;
use super::walk_in::WalkInForm;
use crate::client::{
    self, ApiError, ConnState, LiveSocket, STAFF_COUNTER_KEY, STAFF_TOKEN_KEY, api_get, api_post,
};
use crate::pages::common::{ConnectionBadge, Loading, use_param};
use crate::protocol::{
    MeResponse, QueueSummary, StaffQueue, StaffSnapshot, TicketView, VenueMessage,
};
use leptos::{prelude::*, task::spawn_local};
use leptos_meta::Title;
use leptos_router::hooks::use_navigate;
use serde::de::IgnoredAny;
use serde_json::json;
use std::time::Duration;

/// Everything the dashboard's parts share: signals and the actions that change them.
#[derive(Clone, Copy)]
pub(super) struct Dash {
    pub(super) venue: Memo<String>,
    pub(super) snap: RwSignal<Option<StaffSnapshot>>,
    pub(super) conn: RwSignal<ConnState>,
    pub(super) counter: RwSignal<Option<i64>>,
    pub(super) error: RwSignal<Option<String>>,
    pub(super) notice: RwSignal<Option<String>>,
    pub(super) signed_out: RwSignal<bool>,
    /// Why the dashboard could not be loaded at all (e.g. not staff at this venue).
    pub(super) load_error: RwSignal<Option<String>>,
    /// Ticks so that "waited" times stay current.
    pub(super) now: RwSignal<i64>,
}

impl Dash {
    pub(super) fn base(self) -> String {
        format!("/api/v1/venues/{}", self.venue.get_untracked())
    }

    /// Take a snapshot if it is not older than the one shown.
    pub(super) fn apply(self, s: StaffSnapshot) {
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

    /// Every queue's summary, in dashboard order (tracked: re-runs when the snapshot changes).
    pub(super) fn queue_summaries(self) -> Vec<QueueSummary> {
        self.snap.with(|s| {
            s.as_ref()
                .map(|s| s.queues.iter().map(|q| q.summary.clone()).collect())
                .unwrap_or_default()
        })
    }

    pub(super) fn refresh(self) {
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

    pub(super) fn fail(self, e: ApiError) {
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

    pub(super) fn notify(self, msg: String) {
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
    pub(super) fn post(self, path: String, body: serde_json::Value) {
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

    pub(super) fn ticket_action(self, id: u64, action: &str, body: serde_json::Value) {
        self.post(format!("{}/tickets/{id}/{action}", self.base()), body);
    }

    pub(super) fn queue_action(self, queue: &str, action: &str, body: serde_json::Value) {
        self.post(format!("{}/queues/{queue}/{action}", self.base()), body);
    }

    /// Body `{"counter": id}`, or a toast if no counter is chosen.
    pub(super) fn counter_body(self) -> Option<serde_json::Value> {
        match self.counter.get_untracked() {
            Some(id) => Some(json!({ "counter": id })),
            None => {
                self.error.set(Some("Choose your counter first.".into()));
                None
            }
        }
    }

    pub(super) fn call_next(self, queue: &str) {
        if let Some(body) = self.counter_body() {
            self.queue_action(queue, "call-next", body);
        }
    }

    pub(super) fn call(self, id: u64) {
        if let Some(body) = self.counter_body() {
            self.ticket_action(id, "call", body);
        }
    }
}

#[component]
pub fn DashboardPage() -> impl IntoView {
    view! { <StaffPage settings=false/> }
}

/// One page for every venue setting: venue, queues, counters, team, screens, activity.
#[component]
pub fn SettingsPage() -> impl IntoView {
    view! { <StaffPage settings=true/> }
}

#[component]
fn StaffPage(settings: bool) -> impl IntoView {
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

    // Managers and owners also see the history's dead letters (distributed mode).
    let manager = Memo::new(move |_| {
        let slug = venue.get();
        me.with(|m| {
            m.as_ref().is_some_and(|m| {
                m.venues
                    .iter()
                    .any(|v| v.slug == slug && (v.role == "manager" || v.role == "owner"))
            })
        })
    });
    let owner = Memo::new(move |_| {
        let slug = venue.get();
        me.with(|m| {
            m.as_ref()
                .is_some_and(|m| m.venues.iter().any(|v| v.slug == slug && v.role == "owner"))
        })
    });
    let my_email =
        Memo::new(move |_| me.with(|m| m.as_ref().map(|m| m.email.clone()).unwrap_or_default()));
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
        if settings {
            return view! { <SettingsGrid d=d manager=manager owner=owner me=my_email/> }
                .into_any();
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
                    <DeadLetters d=d manager=manager/>
                    <WalkInForm d=d/>
                </aside>
            </div>
        }
        .into_any()
    };

    view! {
        <Title text=crate::pages::page_title(move || {
            let n = venue_name();
            let page = if settings { "Settings" } else { "Staff" };
            if n.is_empty() { page.to_string() } else { format!("{n} · {page}") }
        })/>
        <div class="dashboard">
            <header class="dash-header">
                <div class="dash-title">
                    <a class="brand small" href="/">"Fila"</a>
                    <h1>{venue_name}</h1>
                    <ConnectionBadge state=d.conn/>
                </div>
                <div class="dash-tools">
                    {counter_select}
                    {move || if settings {
                        view! { <a class="button" data-testid="open-queues" href=format!("/staff/{}", venue.get())>"Back to queues"</a> }.into_any()
                    } else {
                        manager.get().then(|| view! { <a class="button subtle" data-testid="open-settings" href=format!("/staff/{}/settings", venue.get())>"Settings"</a> }).into_any()
                    }}
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

pub(super) fn find_queue<'a>(s: &'a Option<StaffSnapshot>, slug: &str) -> Option<&'a StaffQueue> {
    s.as_ref()?.queues.iter().find(|q| q.summary.slug == slug)
}

/// Key for a ticket row: re-render the row when anything shown on it changes.
pub(super) fn row_key(t: &TicketView) -> (u64, String, Option<String>, String, u32, Option<u32>) {
    (
        t.id,
        t.status.clone(),
        t.counter.clone(),
        t.queue.clone(),
        t.calls,
        t.position,
    )
}

/// Tickets of every queue with one of these statuses, in snapshot order.
pub(super) fn tickets_with(d: Dash, statuses: &'static [&'static str]) -> Vec<TicketView> {
    d.snap.with(|s| {
        s.as_ref()
            .map(|s| {
                s.queues
                    .iter()
                    .flat_map(|q| q.tickets.iter())
                    .filter(|t| statuses.contains(&t.status.as_str()))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    })
}

/// Number, name and party size: the first line of every ticket row.
pub(super) fn row_main(t: &TicketView) -> impl IntoView + use<> {
    view! {
        <span class="row-number">{t.number.clone()}</span>
        <span class="row-name">{t.name.clone()}</span>
        <span class="row-party" title="Party size">{format!("party of {}", t.party_size)}</span>
    }
}
