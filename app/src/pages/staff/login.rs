//! `/staff`: the login form.

use crate::client::{self, STAFF_TOKEN_KEY, api_get, api_post};
use crate::pages::common::use_hydrated;
use crate::protocol::{LoginRequest, LoginResponse, MeResponse};
use leptos::{ev::SubmitEvent, prelude::*, task::spawn_local};
use leptos_meta::Title;
use leptos_router::hooks::use_navigate;

#[component]
pub fn LoginPage() -> impl IntoView {
    let hydrated = use_hydrated();
    let navigate = use_navigate();
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let me = RwSignal::new(None::<MeResponse>);

    // Already signed in on this device? Offer the way back in.
    Effect::new(move |_| {
        if client::storage_get(STAFF_TOKEN_KEY).is_some() {
            spawn_local(async move {
                if let Ok(m) = api_get::<MeResponse>("/api/v1/auth/me").await {
                    me.try_set(Some(m));
                }
            });
        }
    });

    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let body = LoginRequest {
            email: email.get_untracked().trim().to_string(),
            password: password.get_untracked(),
        };
        if body.email.is_empty() || body.password.is_empty() {
            error.set(Some("Enter your email and password.".into()));
            return;
        }
        error.set(None);
        busy.set(true);
        let navigate = navigate.clone();
        spawn_local(async move {
            // A stale token must not get in the way of a fresh login.
            client::storage_remove(STAFF_TOKEN_KEY);
            match api_post::<LoginResponse>("/api/v1/auth/login", &body).await {
                Ok(r) => {
                    client::storage_set(STAFF_TOKEN_KEY, &r.token);
                    match r.venues.first() {
                        Some(v) => navigate(&format!("/staff/{}", v.slug), Default::default()),
                        None => {
                            error.try_set(Some(
                                "This account does not work at any venue yet.".into(),
                            ));
                            busy.try_set(false);
                        }
                    }
                }
                Err(e) => {
                    error.try_set(Some(e.message));
                    busy.try_set(false);
                }
            }
        });
    };

    view! {
        <Title text="Staff login"/>
        <main class="page narrow login-page">
            <a class="brand small" href="/">"Fila"</a>
            <h1>"Staff login"</h1>
            {move || me.get().map(|m| view! {
                <div class="notice">
                    <p>{format!("You are signed in as {}.", m.email)}</p>
                    <ul class="link-list">
                        {m.venues.into_iter().map(|v| view! {
                            <li><a href=format!("/staff/{}", v.slug)>{format!("Open {}", v.name)}</a></li>
                        }).collect_view()}
                    </ul>
                </div>
            })}
            <form class="card" on:submit=on_submit novalidate>
                <label class="field">
                    <span>"Email"</span>
                    <input
                        type="email"
                        data-testid="login-email"
                        autocomplete="username"
                        required
                        // Typing before the app takes over would be wiped by hydration.
                        disabled=move || !hydrated.get()
                        bind:value=email
                    />
                </label>
                <label class="field">
                    <span>"Password"</span>
                    <input
                        type="password"
                        data-testid="login-password"
                        disabled=move || !hydrated.get()
                        autocomplete="current-password"
                        required
                        bind:value=password
                    />
                </label>
                {move || error.get().map(|e| view! { <p class="form-error" data-testid="login-error" role="alert">{e}</p> })}
                <button
                    type="submit"
                    class="button primary big"
                    data-testid="login-submit"
                    disabled=move || !hydrated.get() || busy.get()
                >
                    {move || if busy.get() { "Signing in…" } else { "Sign in" }}
                </button>
            </form>
        </main>
    }
}
