//! `/invite/:token`: someone an owner invited sets their password (or, with an account
//! already, confirms it) and lands on the venue's dashboard.

use crate::client::{self, STAFF_TOKEN_KEY, api_get, api_post};
use crate::pages::common::{Loading, use_hydrated, use_param};
use crate::protocol::{AcceptInvite, InviteInfo, LoginResponse};
use leptos::{ev::SubmitEvent, prelude::*, task::spawn_local};
use leptos_meta::Title;
use leptos_router::hooks::use_navigate;

#[component]
pub fn InvitePage() -> impl IntoView {
    let hydrated = use_hydrated();
    let navigate = use_navigate();
    let token = use_param("token");
    let info = RwSignal::new(None::<Result<InviteInfo, String>>);
    let password = RwSignal::new(String::new());
    let again = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);

    Effect::new(move |_| {
        let t = token.get();
        spawn_local(async move {
            let r = api_get::<InviteInfo>(&format!("/api/v1/invites/{t}"))
                .await
                .map_err(|e| e.message);
            info.try_set(Some(r));
        });
    });

    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let existing = info.with_untracked(|i| matches!(i, Some(Ok(i)) if i.existing_account));
        let pw = password.get_untracked();
        if !existing && pw != again.get_untracked() {
            error.set(Some("The two passwords are not the same.".into()));
            return;
        }
        error.set(None);
        busy.set(true);
        let navigate = navigate.clone();
        let path = format!("/api/v1/invites/{}/accept", token.get_untracked());
        spawn_local(async move {
            match api_post::<LoginResponse>(&path, &AcceptInvite { password: pw }).await {
                Ok(r) => {
                    client::storage_set(STAFF_TOKEN_KEY, &r.token);
                    let venue = info.with_untracked(|i| match i {
                        Some(Ok(i)) => i.venue.clone(),
                        _ => String::new(),
                    });
                    navigate(&format!("/staff/{venue}"), Default::default());
                }
                Err(e) => {
                    error.try_set(Some(e.message));
                    busy.try_set(false);
                }
            }
        });
    };

    let body = move || match info.get() {
        None => view! { <Loading/> }.into_any(),
        Some(Err(e)) => view! {
            <div class="card">
                <p class="form-error" role="alert" data-testid="invite-error">{e}</p>
                <p><a href="/staff">"Go to the staff login"</a></p>
            </div>
        }
        .into_any(),
        Some(Ok(i)) => {
            let existing = i.existing_account;
            let on_submit = on_submit.clone();
            view! {
                <p data-testid="invite-what">{format!("{} invites you to work there as {}.", i.venue_name, i.role)}</p>
                <form class="card" on:submit=on_submit novalidate>
                    <label class="field">
                        <span>"Email"</span>
                        <input type="email" autocomplete="username" readonly prop:value=i.email.clone()/>
                    </label>
                    <label class="field">
                        <span>{if existing { "Your current password" } else { "Choose a password (at least 10 characters)" }}</span>
                        <input
                            type="password"
                            data-testid="invite-password"
                            autocomplete=if existing { "current-password" } else { "new-password" }
                            disabled=move || !hydrated.get()
                            bind:value=password
                        />
                    </label>
                    {(!existing).then(|| view! {
                        <label class="field">
                            <span>"The same password again"</span>
                            <input
                                type="password"
                                data-testid="invite-password-again"
                                autocomplete="new-password"
                                disabled=move || !hydrated.get()
                                bind:value=again
                            />
                        </label>
                    })}
                    {move || error.get().map(|e| view! { <p class="form-error" role="alert" data-testid="invite-form-error">{e}</p> })}
                    <button type="submit" class="button primary big" data-testid="invite-accept"
                        disabled=move || !hydrated.get() || busy.get()>
                        {move || if busy.get() { "Joining…" } else { "Join" }}
                    </button>
                </form>
            }
            .into_any()
        }
    };

    view! {
        <Title text="Staff invite"/>
        <main class="page narrow login-page">
            <a class="brand small" href="/">"Fila"</a>
            <h1>"You are invited"</h1>
            {body}
        </main>
    }
}
