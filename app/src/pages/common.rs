//! Small pieces shared by the screens.

use crate::client::ConnState;
use leptos::prelude::*;

/// `false` on the server and during hydration, `true` once the browser has taken over. Buttons
/// that need the browser stay disabled until then, so nothing is clicked into the void.
pub fn use_hydrated() -> ReadSignal<bool> {
    let (hydrated, set_hydrated) = signal(false);
    Effect::new(move |_| set_hydrated.set(true));
    hydrated
}

/// A route parameter as a string memo (empty when missing).
pub fn use_param(name: &'static str) -> Memo<String> {
    let params = leptos_router::hooks::use_params_map();
    Memo::new(move |_| params.read().get(name).unwrap_or_default())
}

/// The live-connection indicator: `data-testid="connection"`, `data-state` live | connecting | offline.
#[component]
pub fn ConnectionBadge(state: RwSignal<ConnState>) -> impl IntoView {
    view! {
        <span
            class="connection"
            data-testid="connection"
            data-state=move || state.get().as_str()
            role="status"
            aria-live="polite"
        >
            <span class="connection-dot" aria-hidden="true"></span>
            {move || state.get().label()}
        </span>
    }
}

#[component]
pub fn Loading() -> impl IntoView {
    view! {
        <div class="loading" aria-busy="true">
            <span class="spinner" aria-hidden="true"></span>
            "Loading…"
        </div>
    }
}

/// A ticket status as staff say it.
pub fn staff_status_label(status: &str) -> &'static str {
    match status {
        "called" => "Called",
        other => status_label(other),
    }
}

/// A ticket status in words the customer reads.
pub fn status_label(status: &str) -> &'static str {
    match status {
        "waiting" => "Waiting",
        "called" => "It's your turn",
        "serving" => "Being served",
        "served" => "Served",
        "no_show" => "No-show",
        "cancelled" => "Cancelled",
        _ => "Unknown",
    }
}

/// Queue status in words.
pub fn queue_status_label(status: &str) -> &'static str {
    match status {
        "open" => "Open",
        "paused" => "Paused",
        "closed" => "Closed",
        _ => "Unknown",
    }
}

/// Elapsed milliseconds as "just now", "4 min", "1 h 05 min".
pub fn format_elapsed(ms: i64) -> String {
    let mins = ms.max(0) / 60_000;
    match mins {
        0 => "just now".into(),
        1..=59 => format!("{mins} min"),
        _ => format!("{} h {:02} min", mins / 60, mins % 60),
    }
}

/// "A007" as speech: "A 0 0 7", so it is read out character by character.
pub fn spoken_number(number: &str) -> String {
    let mut out = String::with_capacity(number.len() * 2);
    for c in number.chars() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_spelled_out() {
        assert_eq!(spoken_number("A007"), "A 0 0 7");
    }

    #[test]
    fn elapsed_reads_well() {
        assert_eq!(format_elapsed(10_000), "just now");
        assert_eq!(format_elapsed(5 * 60_000), "5 min");
        assert_eq!(format_elapsed(65 * 60_000), "1 h 05 min");
    }
}
