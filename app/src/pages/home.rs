//! `/`: what Fila is.

use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn HomePage() -> impl IntoView {
    view! {
        <Title text=""/>
        <main class="page narrow home">
            <h1 class="brand">"Fila"</h1>
            <p class="lead">
                "A realtime queue: customers join from their phone, staff call them, and the venue screen shows who is next."
            </p>
            <p><a class="button primary" href="/staff">"Staff login"</a></p>
        </main>
    }
}
