//! Adding a walk-in.

use super::dashboard::Dash;
use crate::client::{ConnState, api_post};
use crate::protocol::{JoinRequest, TicketView};
use leptos::{ev::SubmitEvent, prelude::*, task::spawn_local};

#[component]
pub(super) fn WalkInForm(d: Dash) -> impl IntoView {
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
            code: None,
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
