//! History entries the distributed-mode projector could not write (managers and owners):
//! shown only when there are some, each with a "Replay" button.

use super::dashboard::Dash;
use crate::client::{api_get, api_post};
use crate::protocol::DeadLetter;
use leptos::{prelude::*, task::spawn_local};
use serde::de::IgnoredAny;
use serde_json::json;
use std::time::Duration;

/// How often the list is fetched again while the dashboard is open.
const POLL_EVERY: Duration = Duration::from_secs(30);

#[component]
pub(super) fn DeadLetters(d: Dash, manager: Memo<bool>) -> impl IntoView {
    let letters = RwSignal::new(Vec::<DeadLetter>::new());
    let load = move || {
        if !manager.get_untracked() {
            return;
        }
        let path = format!("{}/dead-letters", d.base());
        spawn_local(async move {
            if let Ok(l) = api_get::<Vec<DeadLetter>>(&path).await {
                letters.try_set(l);
            }
        });
    };
    Effect::new(move |_| {
        let _ = (d.venue.get(), manager.get());
        load();
        let tick = set_interval_with_handle(load, POLL_EVERY).ok();
        on_cleanup(move || {
            if let Some(t) = tick {
                t.clear();
            }
        });
    });
    let replay = move |id: String| {
        let path = format!("{}/dead-letters/{id}/replay", d.base());
        spawn_local(async move {
            match api_post::<IgnoredAny>(&path, &json!({})).await {
                Ok(_) => {
                    d.notice.try_set(Some("Saved to history.".into()));
                }
                Err(e) => {
                    d.error.try_set(Some(e.message));
                }
            }
            load();
        });
    };
    move || {
        let list = letters.get();
        (!list.is_empty()).then(|| {
            view! {
                <section class="card dead-letters" data-testid="dead-letters">
                    <h2>"Not saved to history"</h2>
                    <p class="hint">"The queue is fine; these changes did not reach the history database. Replay them once it is healthy."</p>
                    <ul class="ticket-list">
                        {list.into_iter().map(|l| {
                            let id = l.id.clone();
                            view! {
                                <li class="ticket-row">
                                    <div class="row-main">
                                        <strong>{format!("Change #{}", l.seq)}</strong>
                                        <span class="pill">{format!("failed {}×", l.failures)}</span>
                                    </div>
                                    <p class="row-counter">{l.error}</p>
                                    <div class="row-actions">
                                        <button class="button small" data-testid="replay-dead-letter" on:click=move |_| replay(id.clone())>"Replay"</button>
                                    </div>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                </section>
            }
        })
    }
}
