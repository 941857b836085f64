//! `/v/:venue`: join a queue from the phone.

use super::common::{Loading, use_hydrated, use_param};
use crate::client::{self, ApiError, api_get, api_post};
use crate::protocol::{JoinRequest, TicketView, VenueInfo, format_wait};
use leptos::either::{Either, EitherOf4};
use leptos::{ev::SubmitEvent, prelude::*, task::spawn_local};
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_query_map};

/// Statuses of a ticket that is still in play.
fn is_active(status: &str) -> bool {
    matches!(status, "waiting" | "called" | "serving")
}

/// The queue to preselect: the one the link asked for if it is open, else the first open one.
fn pick_queue(v: &VenueInfo, wanted: Option<&str>) -> Option<String> {
    let open = |q: &&crate::protocol::QueueSummary| q.status == "open";
    wanted
        .and_then(|w| v.queues.iter().filter(open).find(|q| q.slug == w))
        .or_else(|| v.queues.iter().find(open))
        .map(|q| q.slug.clone())
}

#[component]
pub fn JoinPage() -> impl IntoView {
    let venue = use_param("venue");
    let query = use_query_map();
    let hydrated = use_hydrated();
    let navigate = use_navigate();

    // Rendered with the venue's queues (see `pages::rendered`).
    let rendered = super::rendered(|data| data.venue_info(&venue.get_untracked()));
    let selected = RwSignal::new(
        rendered
            .as_ref()
            .and_then(|v| pick_queue(v, query.with_untracked(|q| q.get("queue")).as_deref())),
    );
    // The venue whose queues came with the page: its first load is already done.
    let rendered_for = StoredValue::new(rendered.is_some().then(|| venue.get_untracked()));
    let info = RwSignal::new(rendered.map(Ok::<VenueInfo, String>));
    let existing = RwSignal::new(None::<(String, String)>);
    let name = RwSignal::new(String::new());
    let party = RwSignal::new("2".to_string());
    let notes = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);

    Effect::new(move |_| {
        let slug = venue.get();
        existing.set(None);
        if rendered_for
            .try_update_value(Option::take)
            .flatten()
            .as_ref()
            != Some(&slug)
        {
            info.set(None);
            let wanted = query.with_untracked(|q| q.get("queue"));
            let s = slug.clone();
            spawn_local(async move {
                let result = api_get::<VenueInfo>(&format!("/api/v1/venues/{s}")).await;
                let result = result.map_err(|e: ApiError| {
                    if e.is_not_found() {
                        "We can't find this venue. Check the link or scan the QR code again."
                            .to_string()
                    } else {
                        e.message
                    }
                });
                if let Ok(v) = &result {
                    selected.try_set(pick_queue(v, wanted.as_deref()));
                }
                info.try_set(Some(result));
            });
        }
        // A ticket for this venue already on this phone and still active?
        spawn_local(async move {
            let mine: Vec<_> = client::saved_tickets()
                .into_iter()
                .rev()
                .filter(|t| t.venue == slug)
                .take(3)
                .collect();
            for saved in mine {
                let path = format!("/api/v1/tickets/{}", saved.token);
                match api_get::<TicketView>(&path).await {
                    Ok(t) if is_active(&t.status) => {
                        existing.try_set(Some((saved.token, t.number)));
                        return;
                    }
                    Err(e) if e.is_not_found() => client::forget_ticket(&saved.token),
                    _ => {}
                }
            }
        });
    });

    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let Some(queue) = selected.get_untracked() else {
            error.set(Some("Choose a queue first.".into()));
            return;
        };
        let person = name.get_untracked().trim().to_string();
        if person.is_empty() {
            error.set(Some("Please tell us your name.".into()));
            return;
        }
        let party_size = match party.get_untracked().trim().parse::<i64>() {
            Ok(n) if (1..=20).contains(&n) => n,
            _ => {
                error.set(Some("Party size must be between 1 and 20.".into()));
                return;
            }
        };
        let notes = notes.get_untracked().trim().to_string();
        let body = JoinRequest {
            name: person,
            party_size,
            notes: (!notes.is_empty()).then_some(notes),
            // From the venue screen's QR link, when the venue asks for it.
            code: query.with_untracked(|q| q.get("code")),
        };
        let path = format!(
            "/api/v1/venues/{}/queues/{queue}/tickets",
            venue.get_untracked()
        );
        error.set(None);
        busy.set(true);
        let navigate = navigate.clone();
        spawn_local(async move {
            match api_post::<TicketView>(&path, &body).await {
                Ok(t) => match t.token {
                    Some(token) => {
                        client::remember_ticket(&token, &t.venue, &t.number);
                        navigate(&format!("/t/{token}"), Default::default());
                    }
                    None => {
                        error.try_set(Some("Something went wrong. Please try again.".into()));
                        busy.try_set(false);
                    }
                },
                Err(e) => {
                    error.try_set(Some(e.message));
                    busy.try_set(false);
                }
            }
        });
    };

    let queue_list = move || {
        info.with(|i| match i {
            None => EitherOf4::A(Loading()),
            Some(Err(msg)) => EitherOf4::B(view! { <p class="notice error">{msg.clone()}</p> }),
            Some(Ok(v)) if v.queues.is_empty() => {
                EitherOf4::C(view! { <p class="notice">"This venue has no queues yet."</p> })
            }
            Some(Ok(v)) => {
                let options = v
                    .queues
                    .iter()
                    .map(|q| {
                        let slug = q.slug.clone();
                        let slug_check = slug.clone();
                        let slug_set = slug.clone();
                        let full = q.max_waiting.is_some_and(|m| q.waiting >= m);
                        let disabled = q.status != "open" || full;
                        // Hours are in the venue's time zone; a join outside them is
                        // refused with the time the queue opens.
                        let hours = crate::protocol::HoursSlotView::to_hours(&q.open_hours)
                            .ok()
                            .filter(|h| !h.is_unrestricted())
                            .map(|h| format!("Hours: {h}"));
                        let state = match q.status.as_str() {
                            "paused" => Some("Paused"),
                            "closed" => Some("Closed"),
                            _ if full => Some("Full right now"),
                            _ => None,
                        };
                        view! {
                            <label class="queue-option" class:disabled=disabled>
                                <input
                                    type="radio"
                                    name="queue"
                                    value=slug.clone()
                                    data-testid=format!("join-queue-{slug}")
                                    disabled=disabled
                                    prop:checked=move || selected.get().as_deref() == Some(slug_check.as_str())
                                    on:change=move |_| selected.set(Some(slug_set.clone()))
                                />
                                <span class="queue-option-body">
                                    <span class="queue-option-name">{q.name.clone()}</span>
                                    <span class="queue-option-meta">
                                        {match state {
                                            Some(label) => Either::Left(view! { <span class="pill muted">{label}</span> }),
                                            None => Either::Right(view! {
                                                <span>{format!("{} waiting", q.waiting)}</span>
                                                " · "
                                                <span>{format_wait(q.eta_seconds)}</span>
                                            }),
                                        }}
                                    </span>
                                    {hours.map(|h| view! { <span class="queue-option-hours" data-testid="queue-hours">{h}</span> })}
                                </span>
                            </label>
                        }
                    })
                    .collect_view();
                EitherOf4::D(view! {
                    <fieldset class="queue-choices">
                        <legend>"Which queue?"</legend>
                        {options}
                    </fieldset>
                })
            }
        })
    };

    let venue_name = move || {
        info.with(|i| match i {
            Some(Ok(v)) => v.name.clone(),
            _ => String::new(),
        })
    };
    let nothing_open = move || {
        info.with(|i| match i {
            Some(Ok(v)) => !v.queues.iter().any(|q| q.status == "open"),
            _ => true,
        })
    };

    view! {
        <Title text=move || if venue_name().is_empty() { "Join the queue".to_string() } else { format!("Join · {}", venue_name()) }/>
        <main class="page narrow join-page">
            <h1>{move || { let n = venue_name(); if n.is_empty() { "Join the queue".to_string() } else { n } }}</h1>
            {move || existing.get().map(|(token, number)| view! {
                <a class="notice existing" data-testid="existing-ticket" href=format!("/t/{token}")>
                    {format!("You already have ticket {number} — view it")}
                </a>
            })}
            <form class="card join-form" on:submit=on_submit novalidate>
                {queue_list}
                <label class="field">
                    <span>"Your name"</span>
                    <input
                        type="text"
                        data-testid="join-name"
                        // Typing before the app takes over would be wiped by hydration.
                        disabled=move || !hydrated.get()
                        maxlength="80"
                        autocomplete="given-name"
                        required
                        bind:value=name
                    />
                </label>
                <label class="field">
                    <span>"Party size"</span>
                    <input
                        type="number"
                        data-testid="join-party"
                        // Typing before the app takes over would be wiped by hydration.
                        disabled=move || !hydrated.get()
                        min="1"
                        max="20"
                        inputmode="numeric"
                        bind:value=party
                    />
                </label>
                <label class="field">
                    <span>"Notes " <small>"(optional)"</small></span>
                    <textarea
                        data-testid="join-notes"
                        disabled=move || !hydrated.get()
                        maxlength="280"
                        rows="2"
                        placeholder="High chair, accessibility needs…"
                        bind:value=notes
                    ></textarea>
                </label>
                {move || error.get().map(|e| view! {
                    <p class="form-error" data-testid="join-error" role="alert">{e}</p>
                })}
                <button
                    type="submit"
                    class="button primary big"
                    data-testid="join-submit"
                    disabled=move || !hydrated.get() || busy.get() || nothing_open()
                >
                    {move || if busy.get() { "Joining…" } else { "Join the queue" }}
                </button>
            </form>
        </main>
    }
}
