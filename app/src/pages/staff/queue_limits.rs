//! The "Queue sizes" card (managers and owners): the most people each queue lets wait at
//! once. Over it, customers are told the queue is full; staff can still add walk-ins.

use super::dashboard::Dash;
use crate::client::api_post;
use crate::protocol::{QueueLimit, QueueSummary};
use leptos::{prelude::*, task::spawn_local};

#[component]
pub(super) fn QueueLimits(d: Dash) -> impl IntoView {
    let queues = Memo::new(move |_| d.queue_summaries());
    view! {
        <section class="card queue-limits" data-testid="queue-limits">
            <h2>"Queue sizes"</h2>
            <ul class="ticket-list">
                <For each=move || queues.get() key=|q| (q.slug.clone(), q.max_waiting) let:q>
                    <LimitRow d=d q=q/>
                </For>
            </ul>
        </section>
    }
}

#[component]
fn LimitRow(d: Dash, q: QueueSummary) -> impl IntoView {
    let value = RwSignal::new(q.max_waiting.map(|m| m.to_string()).unwrap_or_default());
    let slug = q.slug.clone();
    let save = move |_| {
        let text = value.get_untracked();
        let max_waiting = match text.trim() {
            "" => None,
            t => match t.parse::<u32>() {
                Ok(n) => Some(n),
                Err(_) => {
                    d.error.set(Some(
                        "Type a number of people, or leave it empty for no limit.".into(),
                    ));
                    return;
                }
            },
        };
        let path = format!("{}/queues/{}/limit", d.base(), slug);
        spawn_local(async move {
            match api_post::<QueueSummary>(&path, &QueueLimit { max_waiting }).await {
                Ok(s) => {
                    d.notice.try_set(Some(match s.max_waiting {
                        Some(m) => format!("{}: at most {m} waiting.", s.name),
                        None => format!("{}: no limit.", s.name),
                    }));
                }
                Err(e) => {
                    d.error.try_set(Some(e.message));
                }
            }
        });
    };
    view! {
        <li class="ticket-row" data-testid=format!("limit-{}", q.slug)>
            <label class="inline-field">
                <span>{q.name.clone()}</span>
                <input type="number" min="1" max="10000" placeholder="no limit" class="limit-input"
                    data-testid="limit-input" bind:value=value/>
            </label>
            <button class="button small" data-testid="limit-save" on:click=save>"Save"</button>
        </li>
    }
}
