//! The "Counters and tables" settings card (managers): rename, remove and add. A counter
//! someone is called to cannot be removed until they are done.

use super::dashboard::Dash;
use crate::client::{api_delete, api_post};
use crate::protocol::{CounterView, NewCounter};
use leptos::{ev::SubmitEvent, prelude::*, task::spawn_local};
use serde::de::IgnoredAny;

#[component]
pub(super) fn CountersCard(d: Dash) -> impl IntoView {
    let counters = Memo::new(move |_| {
        d.snap
            .with(|s| s.as_ref().map(|s| s.counters.clone()).unwrap_or_default())
    });
    let new_name = RwSignal::new(String::new());
    let add = move |ev: SubmitEvent| {
        ev.prevent_default();
        let body = NewCounter {
            name: new_name.get_untracked(),
        };
        let path = format!("{}/counters", d.base());
        spawn_local(async move {
            match api_post::<CounterView>(&path, &body).await {
                Ok(c) => {
                    new_name.try_set(String::new());
                    d.notice.try_set(Some(format!("Added counter {}.", c.name)));
                }
                Err(e) => {
                    d.error.try_set(Some(e.message));
                }
            }
        });
    };
    view! {
        <section class="card counters-settings" data-testid="counters-settings">
            <h2>"Counters and tables"</h2>
            <ul class="ticket-list">
                <For each=move || counters.get() key=|c| (c.id, c.name.clone()) let:c>
                    <CounterRow d=d c=c/>
                </For>
            </ul>
            <form on:submit=add novalidate>
                <label class="field">
                    <span>"New counter or table"</span>
                    <input data-testid="new-counter-name" placeholder="Table 9" bind:value=new_name/>
                </label>
                <button type="submit" class="button small" data-testid="add-counter">"Add counter"</button>
            </form>
        </section>
    }
}

#[component]
fn CounterRow(d: Dash, c: CounterView) -> impl IntoView {
    let name = RwSignal::new(c.name.clone());
    let path = format!("{}/counters/{}", d.base(), c.id);
    let rename_path = path.clone();
    let rename = move |ev: SubmitEvent| {
        ev.prevent_default();
        let body = NewCounter {
            name: name.get_untracked(),
        };
        let path = rename_path.clone();
        spawn_local(async move {
            match api_post::<CounterView>(&path, &body).await {
                Ok(c) => {
                    d.notice.try_set(Some(format!("Renamed to {}.", c.name)));
                }
                Err(e) => {
                    d.error.try_set(Some(e.message));
                }
            }
        });
    };
    let old = c.name.clone();
    let remove = move |_| {
        let path = path.clone();
        let old = old.clone();
        spawn_local(async move {
            match api_delete::<IgnoredAny>(&path).await {
                Ok(_) => {
                    d.notice.try_set(Some(format!("Removed {old}.")));
                    d.refresh();
                }
                Err(e) => {
                    d.error.try_set(Some(e.message));
                }
            }
        });
    };
    view! {
        <li class="ticket-row" data-testid="counter-row" data-name=c.name.clone()>
            <form class="inline-form" on:submit=rename novalidate>
                <input aria-label="Counter name" data-testid="counter-name" bind:value=name/>
                <button type="submit" class="button small" data-testid="counter-rename">"Rename"</button>
            </form>
            <button class="button subtle small danger" data-testid="counter-remove" on:click=remove>"Remove"</button>
        </li>
    }
}
