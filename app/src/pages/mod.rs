//! The Leptos UI: the HTML shell, the router and one module per screen.
//!
//! Every page renders the same markup on the server and on the first client render (a
//! "Loading…" skeleton where data is needed); data is fetched and sockets opened in effects,
//! which only run in the browser.

mod common;
mod display;
mod home;
pub mod join;
mod staff;
mod ticket;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Title, provide_meta_context};
use leptos_router::{
    components::{Route, Router, Routes},
    path,
};

/// What the server lends the pages while it renders them, so they can show real data in the
/// first HTML instead of a "Loading…" placeholder. Not there in the browser.
#[derive(Clone)]
pub struct ServerData(pub std::sync::Arc<dyn PageSource>);

impl std::ops::Deref for ServerData {
    type Target = dyn PageSource;
    fn deref(&self) -> &Self::Target {
        &*self.0
    }
}

/// The server's side of [`ServerData`]: quick in-memory reads only, never storage (a page
/// renders while its response is being sent).
pub trait PageSource: Send + Sync {
    /// A ticket this instance holds in memory (today's, in a loaded venue), by token.
    fn live_ticket(&self, token: &str) -> Option<crate::protocol::TicketView>;
    /// A venue this instance has loaded, as `GET /api/v1/venues/{venue}` shows it.
    fn venue_info(&self, slug: &str) -> Option<crate::protocol::VenueInfo>;
}

/// Data the server rendered a page with, read through [`ServerData`] and carried into the
/// page by Leptos' `SharedValue`, so the browser hydrates with exactly what was rendered
/// instead of asking for it again. `None` in the browser after a client-side navigation (there
/// is no server there), and when the server had nothing in memory: the page then loads it.
pub(crate) fn rendered<T>(read: impl FnOnce(&dyn PageSource) -> Option<T>) -> Option<T>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    SharedValue::new(move || use_context::<ServerData>().and_then(|data| read(&*data))).into_inner()
}

/// A form on a phone page that the browser posted by itself (the app not loaded yet on a slow
/// network, or no JavaScript) and the server refused. The server renders the page again with
/// this in context: the message, and every field as it was typed, so nothing is lost. The
/// browser hydrates the same page from it (`refused`).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FormRefusal {
    pub error: String,
    /// The posted fields, by name, in the order posted.
    pub fields: Vec<(String, String)>,
}

impl FormRefusal {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The refusal this page was rendered with, if any (see [`FormRefusal`]).
pub(crate) fn refused() -> Option<FormRefusal> {
    SharedValue::new(use_context::<FormRefusal>).into_inner()
}

/// The browser files of a build, by the names the server links them under.
///
/// `scripts/build.sh` names every file after a hash of its content and lists the names in
/// `pkg/assets.txt`, so a browser may keep them for a year (`Cache-Control: immutable`): a new
/// build is a new name. Two wasm bundles are built: the whole app, and the phone's own one
/// with only the join and ticket pages ([`PhoneApp`]), which is what a customer's first visit
/// downloads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assets {
    /// Bundle name of the whole app: `<app>.js` and `<app>_bg.wasm` in `pkg/`.
    pub app: String,
    /// Bundle name of the phone pages' app.
    pub phone: String,
    /// The stylesheet's file name in `pkg/`.
    pub css: String,
    /// Whether the names are content hashes (a build by `scripts/build.sh`), so the files may
    /// be cached for good. `cargo leptos watch` writes fixed names and no `assets.txt`.
    pub hashed: bool,
}

impl Default for Assets {
    /// The fixed names cargo-leptos writes; one bundle for every page.
    fn default() -> Self {
        Self {
            app: "fila".into(),
            phone: "fila".into(),
            css: "fila.css".into(),
            hashed: false,
        }
    }
}

impl Assets {
    /// Reads `pkg/assets.txt`: `key=value` lines for `app`, `phone` and `css`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (mut app, mut phone, mut css) = (None, None, None);
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let (key, value) = line
                .split_once('=')
                .ok_or_else(|| format!("not a key=value line: {line:?}"))?;
            let value = value.trim();
            // The names go into URLs and a script: a build never writes anything else.
            if value.is_empty()
                || !value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
            {
                return Err(format!("not a file name: {value:?}"));
            }
            let slot = match key.trim() {
                "app" => &mut app,
                "phone" => &mut phone,
                "css" => &mut css,
                other => return Err(format!("unknown key {other:?}")),
            };
            *slot = Some(value.to_string());
        }
        match (app, phone, css) {
            (Some(app), Some(phone), Some(css)) => Ok(Self {
                app,
                phone,
                css,
                hashed: true,
            }),
            _ => Err("app, phone and css are all needed".into()),
        }
    }

    /// The bundle that hydrates the page at `path`.
    pub fn bundle_for(&self, path: &str) -> &str {
        if is_phone_path(path) {
            &self.phone
        } else {
            &self.app
        }
    }
}

/// The path (and query) of a URL that may be absolute.
fn path_of(url: &str) -> &str {
    match url.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => url,
    }
}

/// `/v/<venue>` and `/t/<token>` (a query string aside): the pages [`PhoneApp`] holds. Exactly
/// its routes, so the phone bundle never hydrates a page it does not have.
/// `<Title>` text: reactive in the browser, worked out once on the server.
///
/// leptos_meta reads a server-rendered page's title after the page's HTML stream, on
/// whichever worker thread polls the response. reactive_graph's sandboxed arenas are per
/// thread, so the page's signals may then have no arena to be read from, and reading one
/// panics ("no Arena is active"; seen on the join page's form refusal, now and then). On the
/// server the page's data is there when it is built, so the title is worked out then, inside
/// the page's owner. leptos_meta writes a title into the HTML as it is, so the server's is
/// escaped here: a venue called `</title><script>…` stays text.
pub(crate) fn page_title(
    text: impl Fn() -> String + Send + Sync + 'static,
) -> leptos::text_prop::TextProp {
    #[cfg(feature = "ssr")]
    return leptos::text_prop::TextProp::from(
        untrack(text)
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;"),
    );
    #[cfg(not(feature = "ssr"))]
    leptos::text_prop::TextProp::from(text)
}

pub fn is_phone_path(path: &str) -> bool {
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let mut parts = path.split('/');
    matches!(
        (parts.next(), parts.next(), parts.next(), parts.next()),
        (Some(""), Some("v" | "t"), Some(id), None) if !id.is_empty()
    )
}

/// The whole HTML document, rendered by the server around [`App`] (or, for the phone pages,
/// the same markup hydrated by [`PhoneApp`]).
pub fn shell(options: LeptosOptions, assets: Assets) -> impl IntoView {
    // leptos_axum provides the request as an absolute URL (`http://leptos.dev/v/demo`).
    let url = use_context::<leptos_router::location::RequestUrl>();
    let path = url.as_ref().map_or("/", |u| path_of(u.as_ref()));
    let mut options = options;
    options.output_name = assets.bundle_for(path).into();
    // `HydrationScripts` links `<output_name>.js` and `<output_name>_bg.wasm`.
    options.hash_files = false;
    let css = format!("/pkg/{}", assets.css);
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="theme-color" content="#0f172a"/>
                <link rel="stylesheet" id="leptos" href=css/>
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

fn title(text: String) -> String {
    if text.is_empty() {
        "Fila".to_string()
    } else {
        format!("{text} · Fila")
    }
}

/// The application: what the browser hydrates.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    Effect::new(|_| crate::client::mark_hydrated());
    view! {
        <Title formatter=title/>
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

/// The phone's app: the join and ticket pages only, with the same markup around them as
/// [`App`], so it hydrates what the server rendered with `App`. Its wasm is less than half
/// of the whole app's, which is what a customer waits for at the door.
#[component]
pub fn PhoneApp() -> impl IntoView {
    provide_meta_context();
    Effect::new(|_| crate::client::mark_hydrated());
    view! {
        <Title formatter=title/>
        <Router>
            <Routes fallback=LeavePhoneApp>
                <Route path=path!("/v/:venue") view=join::JoinPage/>
                <Route path=path!("/t/:token") view=ticket::TicketPage/>
            </Routes>
        </Router>
    }
}

/// A link from a phone page to a page the phone app does not have (the start page, say):
/// load it from the server, which sends it with the whole app. Never hydrated: the phone
/// bundle is only sent with the pages it has ([`is_phone_path`]).
#[component]
fn LeavePhoneApp() -> impl IntoView {
    let location = leptos_router::hooks::use_location();
    Effect::new(move |_| {
        let url = format!(
            "{}{}",
            location.pathname.get_untracked(),
            location.search.get_untracked()
        );
        crate::client::load_page(&url);
    });
    view! { <common::Loading/> }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_paths_are_exactly_the_phone_routes() {
        for path in ["/v/demo", "/t/abc123", "/v/demo?code=1234", "/t/x#top"] {
            assert!(is_phone_path(path), "{path}");
        }
        for path in [
            "/",
            "/v",
            "/v/",
            "/v/demo/",
            "/v/demo/more",
            "/t/",
            "/staff",
            "/staff/demo",
            "/display/demo",
            "/invite/x",
            "/x/demo",
            "",
        ] {
            assert!(!is_phone_path(path), "{path}");
        }
    }

    #[test]
    fn paths_of_absolute_urls() {
        assert_eq!(path_of("http://leptos.dev/v/demo?x=1"), "/v/demo?x=1");
        assert_eq!(path_of("http://leptos.dev"), "/");
        assert_eq!(path_of("/t/tok"), "/t/tok");
    }

    #[test]
    fn asset_names_come_from_the_build() {
        let a = Assets::parse("app=fila.0123abcd\nphone=fila-phone.4567ef01\ncss=fila.89ab.css\n")
            .unwrap();
        assert!(a.hashed);
        assert_eq!(a.bundle_for("/t/tok"), "fila-phone.4567ef01");
        assert_eq!(a.bundle_for("/staff/demo"), "fila.0123abcd");
        assert_eq!(a.css, "fila.89ab.css");
        assert!(Assets::parse("app=fila\nphone=fila-phone\n").is_err());
        assert!(Assets::parse("app=fila\nphone=x\ncss=a\"b.css").is_err());
        assert!(Assets::parse("app=fila\nphone=x\ncss=a.css\nextra=1").is_err());
        assert_eq!(Assets::default().bundle_for("/t/tok"), "fila");
    }
}
