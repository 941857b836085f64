//! The "Queues" settings card: each queue's name, ticket prefix and open hours (managers),
//! removing an empty queue and adding a new one (owners). Changes are live at once.

use super::dashboard::Dash;
use crate::client::{api_delete, api_post};
use crate::domain::Weekday;
use crate::protocol::{HoursSlotView, NewQueue, QueueSettings, QueueSummary};
use leptos::{ev::SubmitEvent, prelude::*, task::spawn_local};
use serde::de::IgnoredAny;

#[component]
pub(super) fn QueueSettingsCard(d: Dash, owner: Memo<bool>) -> impl IntoView {
    let queues = Memo::new(move |_| d.queue_summaries());
    let time_zone = move || {
        d.snap.with(|s| {
            s.as_ref()
                .map(|s| s.time_zone.clone())
                .filter(|z| !z.is_empty())
                .unwrap_or_else(|| "UTC".into())
        })
    };
    view! {
        <section class="card queue-settings" data-testid="queue-settings">
            <h2>"Queues"</h2>
            <p class="hint">"Open hours are in the venue's time zone ("{time_zone}"). Outside them customers cannot join; you can still add walk-ins. No hours: open whenever the queue is."</p>
            // Keyed on everything editable, so a change made elsewhere shows up here.
            <For each=move || queues.get() key=|q| (q.slug.clone(), q.name.clone(), q.prefix.clone(), q.open_hours.clone()) let:q>
                <QueueEditor d=d q=q owner=owner/>
            </For>
            {move || owner.get().then(|| view! { <AddQueue d=d/> })}
        </section>
    }
}

/// One slot as the form holds it.
#[derive(Clone)]
struct SlotRow {
    id: usize,
    day: RwSignal<String>,
    open: RwSignal<String>,
    close: RwSignal<String>,
}

impl SlotRow {
    fn new(id: usize, s: &HoursSlotView) -> Self {
        Self {
            id,
            day: RwSignal::new(s.day.clone()),
            open: RwSignal::new(s.open.clone()),
            close: RwSignal::new(s.close.clone()),
        }
    }

    fn value(&self) -> HoursSlotView {
        let open = self.open.get_untracked();
        let mut close = self.close.get_untracked();
        // A time field cannot say 24:00: 00:00 to 00:00 means the whole day.
        if open == "00:00" && close == "00:00" {
            close = "24:00".into();
        }
        HoursSlotView {
            day: self.day.get_untracked(),
            open,
            close,
        }
    }
}

#[component]
fn QueueEditor(d: Dash, q: QueueSummary, owner: Memo<bool>) -> impl IntoView {
    let name = RwSignal::new(q.name.clone());
    let prefix = RwSignal::new(q.prefix.clone());
    let next_id = StoredValue::new(q.open_hours.len());
    let slots = RwSignal::new(
        q.open_hours
            .iter()
            .enumerate()
            .map(|(i, s)| SlotRow::new(i, s))
            .collect::<Vec<_>>(),
    );
    let slug = q.slug.clone();
    let base = move || format!("{}/queues/{}", d.base(), slug);
    let path = base.clone();

    let add_slot = move |_| {
        let id = next_id.get_value();
        next_id.set_value(id + 1);
        // A new slot starts as a copy of the last one, on the next day: quick to fill a week.
        let last = slots.with_untracked(|s| s.last().map(SlotRow::value));
        let template = match last {
            Some(l) => HoursSlotView {
                day: Weekday::parse(&l.day)
                    .map(|d| {
                        Weekday::ALL[(d.index() as usize + 1) % 7]
                            .as_str()
                            .to_owned()
                    })
                    .unwrap_or(l.day),
                ..l
            },
            None => HoursSlotView {
                day: "mon".into(),
                open: "09:00".into(),
                close: "17:00".into(),
            },
        };
        slots.update(|s| s.push(SlotRow::new(id, &template)));
    };
    let save = move |ev: SubmitEvent| {
        ev.prevent_default();
        let body = QueueSettings {
            name: name.get_untracked(),
            prefix: prefix.get_untracked().trim().to_uppercase(),
            open_hours: slots.with_untracked(|s| s.iter().map(SlotRow::value).collect()),
        };
        let path = path();
        spawn_local(async move {
            match api_post::<QueueSummary>(&format!("{path}/settings"), &body).await {
                Ok(q) => {
                    d.notice.try_set(Some(format!("Saved {}.", q.name)));
                }
                Err(e) => {
                    d.error.try_set(Some(e.message));
                }
            }
        });
    };
    let queue_name = q.name.clone();
    let remove = move |_| {
        let path = base();
        let queue_name = queue_name.clone();
        spawn_local(async move {
            match api_delete::<IgnoredAny>(&path).await {
                Ok(_) => {
                    d.notice.try_set(Some(format!("Removed {queue_name}.")));
                    d.refresh();
                }
                Err(e) => {
                    d.error.try_set(Some(e.message));
                }
            }
        });
    };
    let day_options = |selected: RwSignal<String>| {
        Weekday::ALL
            .iter()
            .map(|w| {
                let v = w.as_str();
                view! { <option value=v prop:selected=move || selected.get() == v>{w.long_name()}</option> }
            })
            .collect_view()
    };
    view! {
        <form class="queue-editor" data-testid=format!("queue-settings-{}", q.slug) on:submit=save novalidate>
            <div class="queue-editor-head">
                <label class="field">
                    <span>"Name"</span>
                    <input data-testid="queue-name" bind:value=name/>
                </label>
                <label class="field narrow-field">
                    <span>"Prefix"</span>
                    <input data-testid="queue-prefix" maxlength="3" bind:value=prefix/>
                </label>
                <span class="hint">{format!("Link name: {}", q.slug)}</span>
            </div>
            <fieldset class="hours">
                <legend>"Open hours"</legend>
                <ul class="hours-list">
                    <For each=move || slots.get() key=|s| s.id let:row>
                        {
                            let id = row.id;
                            view! {
                                <li class="hours-row" data-testid="hours-row">
                                    <select data-testid="hours-day" aria-label="Day"
                                        on:change=move |ev| row.day.set(event_target_value(&ev))>
                                        {day_options(row.day)}
                                    </select>
                                    <input type="time" data-testid="hours-open" aria-label="Opens" bind:value=row.open/>
                                    <span>"to"</span>
                                    <input type="time" data-testid="hours-close" aria-label="Closes" bind:value=row.close/>
                                    <button type="button" class="button subtle small" data-testid="hours-remove"
                                        aria-label="Remove these hours"
                                        on:click=move |_| slots.update(|s| s.retain(|r| r.id != id))>"×"</button>
                                </li>
                            }
                        }
                    </For>
                </ul>
                {move || slots.with(Vec::is_empty).then(|| view! { <p class="hint" data-testid="hours-any">"No hours set: open whenever the queue is."</p> })}
                <button type="button" class="button subtle small" data-testid="hours-add" on:click=add_slot>"Add hours"</button>
            </fieldset>
            <div class="row-actions">
                <button type="submit" class="button small" data-testid="queue-save">"Save"</button>
                {move || owner.get().then(|| view! {
                    <button type="button" class="button subtle small danger" data-testid="queue-remove" on:click=remove.clone()>"Remove queue"</button>
                })}
            </div>
        </form>
    }
}

#[component]
fn AddQueue(d: Dash) -> impl IntoView {
    let q_name = RwSignal::new(String::new());
    let q_slug = RwSignal::new(String::new());
    let q_prefix = RwSignal::new(String::new());
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
    view! {
        <form class="add-queue" on:submit=add_queue novalidate>
            <h3>"Add a queue"</h3>
            <label class="field">
                <span>"Name"</span>
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
    }
}
