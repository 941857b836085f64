//! `/display/:venue`: the venue screen (a TV), dark and big.

use super::common::{ConnectionBadge, Loading, spoken_number, use_hydrated, use_param};
use crate::client::{self, ConnState, LiveSocket, api_get, api_post};
use crate::protocol::{
    CalledTicket, DisplayQueue, DisplaySnapshot, PairRequest, Paired, VenueMessage, format_wait,
};
use leptos::{prelude::*, task::spawn_local};
use leptos_meta::Title;
use std::time::Duration;

/// How many calls the "Now calling" list shows.
const MAX_CALLED: usize = 6;

/// Calls in `new` that were not in `old` (or were called again), oldest first.
fn fresh_calls(old: &[CalledTicket], new: &[CalledTicket]) -> Vec<CalledTicket> {
    let mut fresh: Vec<CalledTicket> = new
        .iter()
        .filter(|c| {
            !old.iter()
                .any(|o| o.number == c.number && o.calls >= c.calls && o.called_at == c.called_at)
        })
        .cloned()
        .collect();
    fresh.reverse();
    fresh
}

/// Chime, then read the calls out.
fn announce(calls: Vec<CalledTicket>) {
    if calls.is_empty() {
        return;
    }
    client::chime();
    set_timeout(
        move || {
            for c in calls.iter().take(3) {
                client::speak(&format!(
                    "Ticket {}, please go to {}",
                    spoken_number(&c.number),
                    c.counter
                ));
            }
        },
        Duration::from_millis(1300),
    );
}

#[component]
pub fn DisplayPage() -> impl IntoView {
    let venue = use_param("venue");
    let hydrated = use_hydrated();
    let snap = RwSignal::new(None::<DisplaySnapshot>);
    let missing = RwSignal::new(false);
    let conn = RwSignal::new(ConnState::Connecting);
    let sound = RwSignal::new(false);

    // Take a picture if it is not older than the one shown, announcing new calls.
    let apply = move |s: DisplaySnapshot| {
        let Some(fresh) = snap.try_with_untracked(|cur| match cur {
            Some(c) if c.venue == s.venue && s.offset < c.offset => None,
            Some(c) if c.venue == s.venue => Some(fresh_calls(&c.called, &s.called)),
            _ => Some(Vec::new()),
        }) else {
            return;
        };
        let Some(fresh) = fresh else { return };
        if sound.get_untracked() {
            announce(fresh);
        }
        snap.set(Some(s));
    };

    // Bumped after pairing, to connect again with the new credential.
    let paired = RwSignal::new(0u32);
    let needs_pairing = RwSignal::new(false);
    // The screen's credential as a query string ("" when unpaired), for the QR image too.
    let cred_query = RwSignal::new(String::new());
    // The QR may hold a rotating join code: fetch it again every minute.
    let qr_tick = RwSignal::new(0u32);
    Effect::new(move |_| {
        let tick = set_interval_with_handle(
            move || qr_tick.update(|n| *n = n.wrapping_add(1)),
            Duration::from_secs(60),
        )
        .ok();
        on_cleanup(move || {
            if let Some(t) = tick {
                t.clear();
            }
        });
    });
    Effect::new(move |_| {
        let slug = venue.get();
        let _ = paired.get();
        snap.set(None);
        missing.set(false);
        needs_pairing.set(false);
        // A paired screen sends its display-only credential; others need none (unless the
        // venue requires pairing, which the first answer tells).
        let cred = client::storage_get(&screen_key(&slug))
            .map(|t| format!("?screen={t}"))
            .unwrap_or_default();
        cred_query.set(cred.clone());
        let path = format!("/api/v1/venues/{slug}/display{cred}");
        // Set when a live socket drops: the REST answer then says whether it was only the
        // network or the screen lost its access (revoked, or pairing newly required).
        let dropped = RwSignal::new(0u32);
        let slug_for_check = slug.clone();
        let socket = LiveSocket::open(
            move || format!("/api/v1/venues/{slug}/display/ws{cred}"),
            move |text| {
                if let Ok(VenueMessage::Snapshot { data, .. }) =
                    serde_json::from_str::<VenueMessage<DisplaySnapshot>>(&text)
                {
                    apply(data);
                }
            },
            move |s| {
                let was = conn.try_get_untracked();
                conn.set(s);
                if s == ConnState::Offline && was == Some(ConnState::Live) {
                    dropped.update(|n| *n += 1);
                }
            },
        );
        Effect::new(move |_| {
            let _ = dropped.get();
            let path = path.clone();
            let slug = slug_for_check.clone();
            spawn_local(async move {
                match api_get::<DisplaySnapshot>(&path).await {
                    Ok(s) => apply(s),
                    Err(e) if e.is_not_found() => {
                        socket.close();
                        missing.try_set(true);
                    }
                    Err(e) if e.code == "pairing_required" => {
                        socket.close();
                        // A credential that no longer opens the display was revoked.
                        client::storage_remove(&screen_key(&slug));
                        needs_pairing.try_set(true);
                    }
                    Err(_) => {}
                }
            });
        });
        on_cleanup(move || socket.close());
    });

    let enable_sound = move |_| {
        client::unlock_audio();
        client::chime();
        // Speech also needs a gesture once; an empty utterance is enough.
        client::speak("");
        sound.set(true);
    };

    let venue_name =
        move || snap.with(|s| s.as_ref().map(|s| s.venue_name.clone()).unwrap_or_default());
    let loaded = Memo::new(move |_| snap.with(|s| s.is_some()));
    // The most recent calls only: the list must fit the screen.
    let called = move || {
        snap.with(|s| {
            s.as_ref()
                .map(|s| {
                    s.called
                        .iter()
                        .take(MAX_CALLED)
                        .cloned()
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        })
    };
    let queue_name = move |slug: &str| {
        snap.with_untracked(|s| {
            s.as_ref()
                .and_then(|s| s.queues.iter().find(|q| q.summary.slug == slug))
                .map(|q| q.summary.name.clone())
                .unwrap_or_default()
        })
    };
    let queues = move || snap.with(|s| s.as_ref().map(|s| s.queues.clone()).unwrap_or_default());
    let join_url =
        move || snap.with(|s| s.as_ref().map(|s| s.join_url.clone()).unwrap_or_default());
    let no_calls =
        Memo::new(move |_| snap.with(|s| s.as_ref().is_some_and(|s| s.called.is_empty())));

    view! {
        <Title text=super::page_title(move || { let n = venue_name(); if n.is_empty() { "Venue screen".to_string() } else { n } })/>
        <div class="display">
            <header class="display-header">
                <h1 class="display-venue">{venue_name}</h1>
                <div class="display-tools">
                    {move || (!sound.get()).then(|| view! {
                        <button class="button sound" data-testid="enable-sound" disabled=move || !hydrated.get() on:click=enable_sound>
                            "♪ Enable sound"
                        </button>
                    })}
                    <ConnectionBadge state=conn/>
                </div>
            </header>
            {move || missing.get().then(|| view! {
                <p class="display-missing">"We can't find this venue. Check the address."</p>
            })}
            {move || needs_pairing.get().then(|| view! { <PairScreen venue=venue paired=paired/> })}
            <main class="display-main">
                <section class="display-called">
                    <h2>"Now calling"</h2>
                    {move || (!loaded.get() && !missing.get()).then(|| view! { <Loading/> })}
                    <ol class="called-list" data-testid="called">
                        <For
                            each=move || called().into_iter().enumerate()
                            key=|(i, c)| (*i == 0, c.number.clone(), c.calls, c.called_at, c.counter.clone())
                            let:item
                        >
                            {
                                let (i, c) = item;
                                view! {
                                    <li class="called-ticket" class:newest=i == 0 data-testid="called-ticket" data-number=c.number.clone()>
                                        <span class="called-number">{c.number.clone()}</span>
                                        <span class="called-arrow" aria-hidden="true">"→"</span>
                                        <span class="called-counter">{c.counter.clone()}</span>
                                        <span class="called-queue">{queue_name(&c.queue)}</span>
                                    </li>
                                }
                            }
                        </For>
                    </ol>
                    {move || no_calls.get().then(|| view! { <p class="display-empty">"Nobody called yet"</p> })}
                </section>
                <aside class="display-side">
                    <ul class="display-queues">
                        <For each=queues key=queue_key let:q>
                            <DisplayQueueCard q=q/>
                        </For>
                    </ul>
                    <div class="display-join">
                        <img data-testid="qr" src=move || {
                            let cred = cred_query.get();
                            let sep = if cred.is_empty() { "?" } else { "&" };
                            format!("/api/v1/venues/{}/qr.svg{cred}{sep}t={}", venue.get(), qr_tick.get())
                        } alt="QR code to join the queue" width="220" height="220"/>
                        <div>
                            <p class="scan">"Scan to join"</p>
                            <p class="join-url" data-testid="join-url">{join_url}</p>
                        </div>
                    </div>
                </aside>
            </main>
        </div>
    }
}

/// Where a paired screen keeps its credential, per venue.
fn screen_key(venue: &str) -> String {
    format!("fila.screen.{venue}")
}

/// The first-time setup of a screen at a venue that requires pairing: type the code a
/// manager made on the dashboard, once.
#[component]
fn PairScreen(venue: Memo<String>, paired: RwSignal<u32>) -> impl IntoView {
    let code = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let body = PairRequest {
            code: code.get_untracked(),
            name: "Venue screen".into(),
        };
        spawn_local(async move {
            match api_post::<Paired>("/api/v1/screens/pair", &body).await {
                Ok(p) if p.venue == venue.get_untracked() => {
                    client::storage_set(&screen_key(&p.venue), &p.token);
                    paired.update(|n| *n += 1);
                }
                Ok(_) => {
                    error.set(Some("That code is for another venue.".into()));
                }
                Err(e) => {
                    error.set(Some(e.message));
                }
            }
        });
    };
    view! {
        <form class="card narrow pair-screen" data-testid="pair-screen" on:submit=on_submit novalidate>
            <h2>"Pair this screen"</h2>
            <p>"On the staff dashboard, a manager makes a pairing code under “Screens”. Type it here, once."</p>
            <label class="field">
                <span>"Pairing code"</span>
                <input data-testid="pair-code" autocomplete="off" bind:value=code/>
            </label>
            {move || error.get().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
            <button type="submit" class="button primary big" data-testid="pair-submit">"Pair"</button>
        </form>
    }
}

/// Key for a queue card: re-render it when anything shown on it changes.
fn queue_key(q: &DisplayQueue) -> (String, String, String, u32, u64, Vec<String>) {
    let s = &q.summary;
    (
        s.slug.clone(),
        s.name.clone(),
        s.status.clone(),
        s.waiting,
        s.eta_seconds,
        q.next.clone(),
    )
}

#[component]
fn DisplayQueueCard(q: DisplayQueue) -> impl IntoView {
    let s = &q.summary;
    let status = s.status.clone();
    view! {
        <li class="display-queue" data-testid=format!("display-queue-{}", s.slug) data-status=status.clone()>
            <div class="dq-head">
                <span class="dq-name">{s.name.clone()}</span>
                {(status != "open").then(|| view! {
                    <span class="pill muted">{if status == "paused" { "Paused" } else { "Closed" }}</span>
                })}
            </div>
            <div class="dq-stats">
                <span><strong>{s.waiting}</strong>" waiting"</span>
                <span>{format_wait(s.eta_seconds)}</span>
            </div>
            {(!q.next.is_empty()).then(|| view! {
                <div class="dq-next">
                    <span class="dq-next-label">"Next"</span>
                    {q.next.iter().take(5).map(|n| view! { <span class="dq-next-number">{n.clone()}</span> }).collect_view()}
                </div>
            })}
        </li>
    }
}
