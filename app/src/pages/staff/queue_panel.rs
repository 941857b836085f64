//! One queue on the dashboard: its controls and its waiting line.

use super::dashboard::{Dash, find_queue, row_key, row_main};
use crate::pages::common::{format_elapsed, queue_status_label};
use crate::protocol::{TicketView, format_wait};
use leptos::prelude::*;
use serde_json::json;

#[component]
pub(super) fn QueuePanel(d: Dash, slug: String) -> impl IntoView {
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
                {row_main(&t)}
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
