//! "Recent activity" (managers and owners): the audit log's newest entries, who did what to
//! which ticket. Refreshed whenever the venue changes.

use super::dashboard::Dash;
use crate::client::{self, api_get};
use crate::protocol::AuditEntry;
use leptos::{prelude::*, task::spawn_local};

/// Entries shown.
const SHOWN: u32 = 25;

/// "called A003" and the like, from the recorded event.
fn describe(e: &AuditEntry) -> String {
    let number = e.event.get("number").and_then(|n| n.as_str()).unwrap_or("");
    let what = match e.kind.as_str() {
        "joined" if e.event.get("walk_in").and_then(|w| w.as_bool()) == Some(true) => {
            "walk-in added".to_owned()
        }
        "joined" => "joined".to_owned(),
        "called" if e.event.get("recall").and_then(|r| r.as_bool()) == Some(true) => {
            "recalled".to_owned()
        }
        "called" => "called".to_owned(),
        "status_changed" => e
            .event
            .get("status")
            .and_then(|s| s.as_str())
            .map(|s| s.replace('_', "-"))
            .unwrap_or_else(|| "changed".into()),
        "requeued" => "put back in line".to_owned(),
        "queue_status_changed" => format!(
            "queue {}",
            e.event
                .get("status")
                .and_then(|s| s.as_str())
                .unwrap_or("changed")
        ),
        "queue_limit_changed" => "queue size changed".to_owned(),
        other => other.replace('_', " "),
    };
    if number.is_empty() {
        what
    } else {
        format!("{number} {what}")
    }
}

/// Local wall-clock time of a timestamp, "21:07".
fn clock(at: i64) -> String {
    let offset_min = client::local_offset_minutes();
    let mins = (at / 60_000 + offset_min as i64).rem_euclid(24 * 60);
    format!("{:02}:{:02}", mins / 60, mins % 60)
}

#[component]
pub(super) fn Activity(d: Dash) -> impl IntoView {
    let entries = RwSignal::new(Vec::<AuditEntry>::new());
    let offset = Memo::new(move |_| d.snap.with(|s| s.as_ref().map(|s| s.offset)));
    Effect::new(move |_| {
        let _ = offset.get();
        let path = format!("{}/audit?limit={SHOWN}", d.base());
        spawn_local(async move {
            if let Ok(list) = api_get::<Vec<AuditEntry>>(&path).await {
                entries.try_set(list);
            }
        });
    });
    view! {
        <section class="card activity" data-testid="activity">
            <h2>"Recent activity"</h2>
            <ul class="activity-list">
                {move || entries.get().into_iter().map(|e| {
                    let who = e.actor.clone().unwrap_or_else(|| "customer".into());
                    view! {
                        <li data-testid="activity-row">
                            <span class="activity-time">{clock(e.at)}</span>
                            " "
                            <span class="activity-what">{describe(&e)}</span>
                            <span class="activity-who">{format!(" · {who}")}</span>
                        </li>
                    }
                }).collect_view()}
            </ul>
        </section>
    }
}
