//! Tickets past the line: called and being served, and today's no-shows.

use super::dashboard::{Dash, row_key, row_main, tickets_with};
use crate::pages::common::staff_status_label;
use crate::protocol::TicketView;
use leptos::prelude::*;
use serde_json::json;

#[component]
pub(super) fn NowServing(d: Dash) -> impl IntoView {
    let rows = move || {
        let mut v = tickets_with(d, &["called", "serving"]);
        v.sort_by_key(|t| std::cmp::Reverse(t.called_at));
        v
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
                {row_main(&t)}
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
pub(super) fn NoShows(d: Dash) -> impl IntoView {
    let rows = move || tickets_with(d, &["no_show"]);
    let empty = Memo::new(move |_| rows().is_empty());
    view! {
        <section class="card no-shows" data-testid="no-shows" class:hidden=move || empty.get()>
            <h2>"No-shows today"</h2>
            <ul class="ticket-list">
                <For each=rows key=row_key let:t>
                    <li class="ticket-row" data-testid="ticket-row" data-number=t.number.clone() data-status=t.status.clone()>
                        <div class="row-main">
                            {row_main(&t)}
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
