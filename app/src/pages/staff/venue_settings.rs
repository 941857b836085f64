//! "Venue settings": add a counter (managers), add a queue and rename the venue (owners).
//! Changes are live at once: the dashboard's snapshot shows them.

use super::dashboard::Dash;
use crate::client::api_post;
use crate::protocol::{CounterView, NewCounter, NewQueue, QueueSummary, VenueName};
use leptos::{ev::SubmitEvent, prelude::*, task::spawn_local};

#[component]
pub(super) fn VenueSettings(d: Dash, owner: Memo<bool>) -> impl IntoView {
    let counter = RwSignal::new(String::new());
    let q_name = RwSignal::new(String::new());
    let q_slug = RwSignal::new(String::new());
    let q_prefix = RwSignal::new(String::new());
    let venue_name = RwSignal::new(String::new());

    let add_counter = move |ev: SubmitEvent| {
        ev.prevent_default();
        let body = NewCounter {
            name: counter.get_untracked(),
        };
        let path = format!("{}/counters", d.base());
        spawn_local(async move {
            match api_post::<CounterView>(&path, &body).await {
                Ok(c) => {
                    counter.try_set(String::new());
                    d.notice.try_set(Some(format!("Added counter {}.", c.name)));
                }
                Err(e) => {
                    d.error.try_set(Some(e.message));
                }
            }
        });
    };
    let add_queue = move |ev: SubmitEvent| {
        ev.prevent_default();
        let body = NewQueue {
            slug: q_slug.get_untracked(),
            name: q_name.get_untracked(),
            prefix: q_prefix.get_untracked().to_uppercase(),
        };
        let path = format!("{}/queues", d.base());
        spawn_local(async move {
            match api_post::<QueueSummary>(&path, &body).await {
                Ok(q) => {
                    for s in [q_name, q_slug, q_prefix] {
                        s.try_set(String::new());
                    }
                    d.notice.try_set(Some(format!("Added queue {}.", q.name)));
                }
                Err(e) => {
                    d.error.try_set(Some(e.message));
                }
            }
        });
    };
    let rename = move |ev: SubmitEvent| {
        ev.prevent_default();
        let body = VenueName {
            name: venue_name.get_untracked(),
        };
        let path = format!("{}/name", d.base());
        spawn_local(async move {
            match api_post::<VenueName>(&path, &body).await {
                Ok(v) => {
                    venue_name.try_set(String::new());
                    d.notice
                        .try_set(Some(format!("The venue is now called {}.", v.name)));
                }
                Err(e) => {
                    d.error.try_set(Some(e.message));
                }
            }
        });
    };
    view! {
        <section class="card venue-settings" data-testid="venue-settings">
            <h2>"Venue settings"</h2>
            <form on:submit=add_counter novalidate>
                <label class="field">
                    <span>"New counter or table"</span>
                    <input data-testid="new-counter-name" placeholder="Table 9" bind:value=counter/>
                </label>
                <button type="submit" class="button small" data-testid="add-counter">"Add counter"</button>
            </form>
            {move || owner.get().then(|| view! {
                <form on:submit=add_queue novalidate>
                    <label class="field">
                        <span>"New queue"</span>
                        <input data-testid="new-queue-name" placeholder="Terrace" bind:value=q_name/>
                    </label>
                    <label class="field">
                        <span>"Link name (a-z, 0-9, -)"</span>
                        <input data-testid="new-queue-slug" placeholder="terrace" bind:value=q_slug/>
                    </label>
                    <label class="field">
                        <span>"Number prefix (1-3 letters)"</span>
                        <input data-testid="new-queue-prefix" placeholder="T" maxlength="3" bind:value=q_prefix/>
                    </label>
                    <button type="submit" class="button small" data-testid="add-queue">"Add queue"</button>
                </form>
                <form on:submit=rename novalidate>
                    <label class="field">
                        <span>"Venue name"</span>
                        <input data-testid="venue-name" bind:value=venue_name/>
                    </label>
                    <button type="submit" class="button small" data-testid="rename-venue">"Rename"</button>
                </form>
            })}
        </section>
    }
}
