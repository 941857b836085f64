//! The "Screens" card (managers and owners): make a pairing code for a venue screen, see the
//! paired screens, revoke one; owners also choose whether screens must be paired.

use super::dashboard::Dash;
use crate::client::{api_delete, api_get, api_post};
use crate::protocol::{JoinCodeSettings, PairingCode, ScreenInfo, ScreenSettings};
use leptos::{prelude::*, task::spawn_local};
use serde::de::IgnoredAny;
use serde_json::json;

#[component]
pub(super) fn Screens(d: Dash, owner: Memo<bool>) -> impl IntoView {
    let screens = RwSignal::new(Vec::<ScreenInfo>::new());
    let need = RwSignal::new(None::<bool>);
    let join_code = RwSignal::new(None::<bool>);
    let code = RwSignal::new(None::<PairingCode>);
    let load = move || {
        let base = d.base();
        spawn_local(async move {
            if let Ok(list) = api_get::<Vec<ScreenInfo>>(&format!("{base}/screens")).await {
                screens.try_set(list);
            }
            if let Ok(s) = api_get::<ScreenSettings>(&format!("{base}/screens/settings")).await {
                need.try_set(Some(s.need_pairing));
            }
            if let Ok(s) = api_get::<JoinCodeSettings>(&format!("{base}/join-code")).await {
                join_code.try_set(Some(s.required));
            }
        });
    };
    Effect::new(move |_| {
        let _ = d.venue.get();
        load();
    });
    let make_code = move |_| {
        let path = format!("{}/screens/pairing-code", d.base());
        spawn_local(async move {
            match api_post::<PairingCode>(&path, &json!({})).await {
                Ok(c) => {
                    code.try_set(Some(c));
                }
                Err(e) => {
                    d.error.try_set(Some(e.message));
                }
            }
        });
    };
    let revoke = move |id: i64| {
        let path = format!("{}/screens/{id}", d.base());
        spawn_local(async move {
            if let Err(e) = api_delete::<IgnoredAny>(&path).await {
                d.error.try_set(Some(e.message));
            }
            load();
        });
    };
    let toggle = move |on: bool| {
        let path = format!("{}/screens/settings", d.base());
        spawn_local(async move {
            match api_post::<ScreenSettings>(&path, &ScreenSettings { need_pairing: on }).await {
                Ok(s) => {
                    need.try_set(Some(s.need_pairing));
                }
                Err(e) => {
                    d.error.try_set(Some(e.message));
                }
            }
        });
    };
    let toggle_code = move |on: bool| {
        let path = format!("{}/join-code", d.base());
        spawn_local(async move {
            match api_post::<JoinCodeSettings>(&path, &JoinCodeSettings { required: on }).await {
                Ok(s) => {
                    join_code.try_set(Some(s.required));
                }
                Err(e) => {
                    d.error.try_set(Some(e.message));
                }
            }
        });
    };
    view! {
        <section class="card screens" data-testid="screens">
            <h2>"Screens"</h2>
            {move || owner.get().then(|| view! {
                <label class="inline-field">
                    <input type="checkbox" data-testid="screens-need-pairing"
                        prop:checked=move || need.get().unwrap_or(false)
                        on:change=move |ev| toggle(event_target_checked(&ev))/>
                    <span>"Only paired screens may show the queue"</span>
                </label>
                <label class="inline-field">
                    <input type="checkbox" data-testid="join-code-required"
                        prop:checked=move || join_code.get().unwrap_or(false)
                        on:change=move |ev| toggle_code(event_target_checked(&ev))/>
                    <span>"Joining needs the QR on a paired screen (its code changes every 10 minutes)"</span>
                </label>
            })}
            <button class="button small" data-testid="make-pairing-code" on:click=make_code>"Pair a screen"</button>
            {move || code.get().map(|c| view! {
                <p class="hint">"On the screen, open the venue screen page and type:"</p>
                <p class="pairing-code" data-testid="pairing-code">{c.code}</p>
                <p class="hint">"It works once, for 10 minutes."</p>
            })}
            <ul class="ticket-list">
                {move || screens.get().into_iter().filter(|s| !s.revoked).map(|s| {
                    let id = s.id;
                    view! {
                        <li class="ticket-row" data-testid="screen-row">
                            <div class="row-main"><strong>{s.name}</strong></div>
                            <div class="row-actions">
                                <button class="button small danger" data-testid="revoke-screen" on:click=move |_| revoke(id)>"Revoke"</button>
                            </div>
                        </li>
                    }
                }).collect_view()}
            </ul>
        </section>
    }
}
