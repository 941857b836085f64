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

/// The join form's fields, checked as the customer is told about them: the app checks them
/// before it posts to the API, and the server checks a form the browser posted by itself
/// (`POST /v/<venue>`). `field` reads a field by its `name`; `code` is the venue screen's
/// join code from the link. Returns the queue's slug and the API request.
pub fn read_join_form(
    field: impl Fn(&str) -> Option<String>,
    code: Option<String>,
) -> Result<(String, JoinRequest), String> {
    let queue = field("queue")
        .filter(|q| !q.is_empty())
        .ok_or("Choose a queue first.")?;
    let name = field("name").unwrap_or_default().trim().to_string();
    if name.is_empty() {
        return Err("Please tell us your name.".into());
    }
    let party_size = match field("party_size")
        .unwrap_or_default()
        .trim()
        .parse::<i64>()
    {
        Ok(n) if (1..=20).contains(&n) => n,
        _ => return Err("Party size must be between 1 and 20.".into()),
    };
    let notes = field("notes").unwrap_or_default().trim().to_string();
    Ok((
        queue,
        JoinRequest {
            name,
            party_size,
            notes: (!notes.is_empty()).then_some(notes),
            code: code.filter(|c| !c.is_empty()),
        },
    ))
}

/// `/v/:venue`. The form works before the app has loaded: it is a plain HTML form that posts
/// to this same address, and the server joins and redirects to the ticket (or renders this page
/// again with the refusal, see [`super::FormRefusal`]). Once hydrated, the app takes the submit
/// over and posts to the API. The fields are left to the browser (no value bindings), so
/// nothing typed before hydration is wiped by it.
#[component]
pub fn JoinPage() -> impl IntoView {
    let venue = use_param("venue");
    let query = use_query_map();
    let hydrated = use_hydrated();
    let navigate = use_navigate();

    // Rendered with the venue's queues (see `pages::rendered`), and with what the customer
    // posted when the server refused it.
    let rendered = super::rendered(|data| data.venue_info(&venue.get_untracked()));
    let refusal = super::refused();
    let posted = |name: &str| {
        refusal
            .as_ref()
            .and_then(|r| r.field(name))
            .map(str::to_string)
    };
    let wanted = posted("queue").or_else(|| query.with_untracked(|q| q.get("queue")));
    // The queue checked when the list is drawn; radios keep their own state afterwards.
    let selected = StoredValue::new(
        rendered
            .as_ref()
            .and_then(|v| pick_queue(v, wanted.as_deref())),
    );
    // The venue whose queues came with the page: its first load is already done.
    let rendered_for = StoredValue::new(rendered.is_some().then(|| venue.get_untracked()));
    let info = RwSignal::new(rendered.map(Ok::<VenueInfo, String>));
    let existing = RwSignal::new(None::<(String, String)>);
    let name = posted("name").unwrap_or_default();
    let party = posted("party_size").unwrap_or_else(|| "2".into());
    let notes = posted("notes").unwrap_or_default();
    let error = RwSignal::new(refusal.map(|r| r.error));
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
                    selected.try_set_value(pick_queue(v, wanted.as_deref()));
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
        let code = query.with_untracked(|q| q.get("code"));
        let (queue, body) = match read_join_form(|f| client::form_value(&ev, f), code) {
            Ok(form) => form,
            Err(message) => {
                error.set(Some(message));
                return;
            }
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
                        let checked = selected.get_value().as_deref() == Some(slug.as_str());
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
                                    checked=checked
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
        <Title text=super::page_title(move || if venue_name().is_empty() { "Join the queue".to_string() } else { format!("Join · {}", venue_name()) })/>
        <main class="page narrow join-page">
            <h1>{move || { let n = venue_name(); if n.is_empty() { "Join the queue".to_string() } else { n } }}</h1>
            {move || existing.get().map(|(token, number)| view! {
                <a class="notice existing" data-testid="existing-ticket" href=format!("/t/{token}")>
                    {format!("You already have ticket {number} — view it")}
                </a>
            })}
            // No `action`: the browser posts to this page's own address, query included.
            // Until the app has loaded, the browser checks `required`, `min` and `max` itself.
            <form class="card join-form" method="post" on:submit=on_submit novalidate=move || hydrated.get()>
                {queue_list}
                <label class="field">
                    <span>"Your name"</span>
                    <input
                        type="text"
                        name="name"
                        data-testid="join-name"
                        value=name
                        maxlength="80"
                        autocomplete="given-name"
                        required
                    />
                </label>
                <label class="field">
                    <span>"Party size"</span>
                    <input
                        type="number"
                        name="party_size"
                        data-testid="join-party"
                        value=party
                        min="1"
                        max="20"
                        inputmode="numeric"
                        required
                    />
                </label>
                <label class="field">
                    <span>"Notes " <small>"(optional)"</small></span>
                    // One line, not a textarea: its text would be a child node, which hydration
                    // would have to match; an input's value is an attribute it leaves alone.
                    <input
                        type="text"
                        name="notes"
                        data-testid="join-notes"
                        value=notes
                        maxlength="280"
                        placeholder="High chair, accessibility needs…"
                    />
                </label>
                {move || error.get().map(|e| view! {
                    <p class="form-error" data-testid="join-error" role="alert">{e}</p>
                })}
                <button
                    type="submit"
                    class="button primary big"
                    data-testid="join-submit"
                    disabled=move || busy.get() || nothing_open()
                >
                    {move || if busy.get() { "Joining…" } else { "Join the queue" }}
                </button>
            </form>
        </main>
    }
}

#[cfg(test)]
mod tests {
    use super::read_join_form;

    fn read(fields: &[(&str, &str)]) -> Result<(String, crate::protocol::JoinRequest), String> {
        let field = |name: &str| {
            fields
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        };
        read_join_form(field, Some(String::new()))
    }

    #[test]
    fn the_join_form_is_read_and_refused_in_the_customers_words() {
        let (queue, body) = read(&[
            ("queue", "bar"),
            ("name", "  Ana "),
            ("party_size", " 3 "),
            ("notes", "  "),
        ])
        .unwrap();
        assert_eq!(queue, "bar");
        assert_eq!(
            (body.name.as_str(), body.party_size, body.notes, body.code),
            ("Ana", 3, None, None)
        );
        for (fields, message) in [
            (
                &[("name", "Ana"), ("party_size", "2")][..],
                "Choose a queue first.",
            ),
            (
                &[("queue", ""), ("name", "Ana")][..],
                "Choose a queue first.",
            ),
            (
                &[("queue", "bar"), ("name", " ")][..],
                "Please tell us your name.",
            ),
            (
                &[("queue", "bar"), ("name", "Ana"), ("party_size", "0")][..],
                "Party size must be between 1 and 20.",
            ),
            (
                &[("queue", "bar"), ("name", "Ana"), ("party_size", "two")][..],
                "Party size must be between 1 and 20.",
            ),
        ] {
            assert_eq!(read(fields).unwrap_err(), message, "{fields:?}");
        }
    }
}
