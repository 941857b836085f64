//! The Leptos UI: the HTML shell, the router and one module per screen.
//!
//! Every page renders the same markup on the server and on the first client render (a
//! "Loading…" skeleton where data is needed); data is fetched and sockets opened in effects,
//! which only run in the browser.

mod common;
mod display;
mod home;
mod join;
mod staff;
mod ticket;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Title, provide_meta_context};
use leptos_router::{
    components::{Route, Router, Routes},
    path,
};

/// The whole HTML document, rendered by the server around [`App`].
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="theme-color" content="#0f172a"/>
                <link rel="stylesheet" id="leptos" href="/pkg/fila.css"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The application: what the browser hydrates.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Title formatter=|text: String| if text.is_empty() { "Fila".to_string() } else { format!("{text} · Fila") }/>
        <Router>
            <Routes fallback=NotFound>
                <Route path=path!("/") view=home::HomePage/>
                <Route path=path!("/v/:venue") view=join::JoinPage/>
                <Route path=path!("/t/:token") view=ticket::TicketPage/>
                <Route path=path!("/staff") view=staff::LoginPage/>
                <Route path=path!("/staff/:venue") view=staff::DashboardPage/>
                <Route path=path!("/staff/:venue/settings") view=staff::SettingsPage/>
                <Route path=path!("/invite/:token") view=staff::InvitePage/>
                <Route path=path!("/display/:venue") view=display::DisplayPage/>
            </Routes>
        </Router>
    }
}

#[component]
fn NotFound() -> impl IntoView {
    view! {
        <Title text="Not found"/>
        <main class="page narrow center">
            <h1>"Page not found"</h1>
            <p>"There is nothing at this address."</p>
            <p><a class="button" href="/">"Go to the start page"</a></p>
        </main>
    }
}
