//! The owner's "Invite staff" card on the dashboard: e-mail and role in, a link out.

use super::dashboard::Dash;
use crate::client::api_post;
use crate::protocol::{InviteCreated, InviteRequest};
use leptos::{ev::SubmitEvent, prelude::*, task::spawn_local};

#[component]
pub(super) fn InviteForm(d: Dash) -> impl IntoView {
    let email = RwSignal::new(String::new());
    let role = RwSignal::new("staff".to_string());
    let created = RwSignal::new(None::<InviteCreated>);
    let error = RwSignal::new(None::<String>);
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let body = InviteRequest {
            email: email.get_untracked().trim().to_string(),
            role: role.get_untracked(),
        };
        let path = format!("{}/invites", d.base());
        spawn_local(async move {
            match api_post::<InviteCreated>(&path, &body).await {
                Ok(c) => {
                    error.try_set(None);
                    email.try_set(String::new());
                    created.try_set(Some(c));
                }
                Err(e) => {
                    error.try_set(Some(e.message));
                }
            }
        });
    };
    view! {
        <section class="card invite" data-testid="invite-form">
            <h2>"Invite staff"</h2>
            <form on:submit=on_submit novalidate>
                <label class="field">
                    <span>"Email"</span>
                    <input type="email" data-testid="invite-email" bind:value=email/>
                </label>
                <label class="field">
                    <span>"Role"</span>
                    <select data-testid="invite-role" on:change=move |ev| role.set(event_target_value(&ev))>
                        <option value="staff" selected>"Staff"</option>
                        <option value="manager">"Manager"</option>
                        <option value="owner">"Owner"</option>
                    </select>
                </label>
                <button type="submit" class="button small primary" data-testid="invite-create">"Create invite link"</button>
            </form>
            {move || error.get().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
            {move || created.get().map(|c| view! {
                <p class="hint">{format!("Send this link to {} ({}); it works once, for 72 hours:", c.email, c.role)}</p>
                <input class="invite-link" readonly data-testid="invite-link" prop:value=c.url.clone()/>
            })}
        </section>
    }
}
