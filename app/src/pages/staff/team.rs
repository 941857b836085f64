//! "Team" (managers see it, owners change it): who works here and as what.

use super::dashboard::Dash;
use crate::client::{api_delete, api_get, api_post};
use crate::protocol::{RoleChange, StaffMember};
use leptos::{prelude::*, task::spawn_local};
use serde::de::IgnoredAny;

#[component]
pub(super) fn Team(d: Dash, owner: Memo<bool>, me: Memo<String>) -> impl IntoView {
    let members = RwSignal::new(Vec::<StaffMember>::new());
    let load = move || {
        let path = format!("{}/staff", d.base());
        spawn_local(async move {
            if let Ok(list) = api_get::<Vec<StaffMember>>(&path).await {
                members.try_set(list);
            }
        });
    };
    Effect::new(move |_| {
        let _ = d.venue.get();
        load();
    });
    let set_role = move |email: String, role: String| {
        let path = format!("{}/staff/{email}/role", d.base());
        spawn_local(async move {
            match api_post::<StaffMember>(&path, &RoleChange { role }).await {
                Ok(m) => {
                    d.notice
                        .try_set(Some(format!("{} is now {}.", m.email, m.role)));
                }
                Err(e) => {
                    d.error.try_set(Some(e.message));
                }
            }
            load();
        });
    };
    let remove = move |email: String| {
        let path = format!("{}/staff/{email}", d.base());
        spawn_local(async move {
            match api_delete::<IgnoredAny>(&path).await {
                Ok(_) => {
                    d.notice
                        .try_set(Some(format!("{email} no longer works here.")));
                }
                Err(e) => {
                    d.error.try_set(Some(e.message));
                }
            }
            load();
        });
    };
    view! {
        <section class="card team" data-testid="team">
            <h2>"Team"</h2>
            <ul class="ticket-list">
                {move || members.get().into_iter().map(|m| {
                    let editable = owner.get() && m.email != me.get();
                    let (e1, e2) = (m.email.clone(), m.email.clone());
                    view! {
                        <li class="ticket-row" data-testid="team-row" data-email=m.email.clone()>
                            <div class="row-main"><strong>{m.email.clone()}</strong></div>
                            {if editable {
                                view! {
                                    <div class="row-actions">
                                        <select data-testid="team-role" on:change=move |ev| set_role(e1.clone(), event_target_value(&ev))>
                                            {["staff", "manager", "owner"].into_iter().map(|r| view! {
                                                <option value=r selected=m.role == r>{r}</option>
                                            }).collect_view()}
                                        </select>
                                        <button class="button small danger" data-testid="team-remove" on:click=move |_| remove(e2.clone())>"Remove"</button>
                                    </div>
                                }.into_any()
                            } else {
                                view! { <span class="pill">{m.role.clone()}</span> }.into_any()
                            }}
                        </li>
                    }
                }).collect_view()}
            </ul>
        </section>
    }
}
