//! HTTP: the REST API, the WebSockets, and the Leptos pages, on one axum router.
//!
//! Architecture invariant: handlers validate input and check access, then hand a
//! `Command` to `venues`; no queue rule is decided here.

pub mod admin;
pub mod assets;
pub mod auth;
pub mod error;
pub mod extract;
pub mod forms;
mod headers;
pub mod invites;
pub mod join_code;
pub mod limits;
pub mod openapi;
pub mod peer;
pub mod public;
pub mod screens;
pub mod serve;
pub mod settings;
pub mod staff;
mod ticket_frame;
mod ticket_wake;
mod write_deadline;
pub mod ws;

use crate::config::Config;
use crate::store::Store;
use crate::venues::{VenueHandle, Venues};
use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRef, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{any, get, post};
use error::ApiError;
use leptos::prelude::LeptosOptions;
use leptos_axum::{LeptosRoutes, generate_route_list};
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use tower::ServiceBuilder;

/// Largest request body we read. A join is ~100 bytes; 16 KiB leaves room and stops floods.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// What every handler shares. Cloned for every request (axum clones the route's service,
/// state included), so it is one `Arc`: one reference count for both cores to touch instead
/// of one per field.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub venues: Arc<Venues>,
    pub store: Store,
    pub config: Arc<Config>,
    pub leptos: LeptosOptions,
    /// The browser files' names, read from the built site at startup.
    pub assets: app::Assets,
    /// Open WebSockets on this instance, checked against `config.max_sockets`.
    pub sockets: Arc<AtomicUsize>,
    /// Turns true when the server is stopping: sockets close so clients
    /// reconnect elsewhere, and graceful shutdown is not held up by long-lived sockets.
    pub stopping: tokio::sync::watch::Sender<bool>,
    pub limits: Arc<Limits>,
    pub access: Arc<auth::AccessCache>,
    /// Connections this instance closed on its own (`/metrics`).
    pub closed: Arc<serve::Closed>,
}

/// The edge's rate limits, shared by every request of this instance.
pub struct Limits {
    pub join_per_ip: limits::RateLimiter,
    pub join_per_venue: limits::RateLimiter,
    pub logins: limits::LoginGuard,
    /// Screen pairing attempts per client address: codes cannot be guessed by brute force.
    pub pairing_per_ip: limits::RateLimiter,
}

/// Pairing attempts allowed per client address per minute.
const PAIRING_PER_MINUTE: u32 = 10;

impl Limits {
    pub fn new(config: &Config) -> Self {
        Self {
            join_per_ip: limits::RateLimiter::new(config.join_rate_per_ip),
            join_per_venue: limits::RateLimiter::new(config.join_rate_per_venue),
            logins: limits::LoginGuard::default(),
            pairing_per_ip: limits::RateLimiter::new(PAIRING_PER_MINUTE),
        }
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(s: &AppState) -> Self {
        s.leptos.clone()
    }
}

impl AppState {
    pub async fn venue(&self, slug: &str) -> Result<Arc<VenueHandle>, ApiError> {
        self.venues
            .get(slug)
            .await?
            .ok_or_else(ApiError::venue_not_found)
    }
}

pub fn router(state: AppState) -> Router {
    let hsts = state.config.public_url().starts_with("https://");
    let api = api_routes(&state, hsts);
    let routes = generate_route_list(app::App);
    let leptos_options = state.leptos.clone();
    let assets = state.assets.clone();
    let shell_assets = assets.clone();
    Router::new()
        .route("/api", get(openapi::api_page))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(admin::metrics))
        // The phone pages' own forms (see `forms`); the pages themselves are Leptos routes.
        .route(
            "/v/{venue}",
            post(forms::join).layer(DefaultBodyLimit::max(MAX_BODY_BYTES)),
        )
        .route(
            "/t/{token}",
            post(forms::ticket).layer(DefaultBodyLimit::max(MAX_BODY_BYTES)),
        )
        .leptos_routes_with_context(&state, routes, page_context(&state), move || {
            app::shell(leptos_options.clone(), assets.clone())
        })
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            ticket_page_catch_up,
        ))
        .merge(assets::routes(&state.leptos.site_root, &state.assets))
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(page_context(&state), move |options| {
            app::shell(options, shell_assets.clone())
        }))
        .layer(tower::util::MapResponseLayer::new(move |resp| {
            headers::security(resp, hsts)
        }))
        // Merged after the site's layer, not nested under it: the API's own stack sets the
        // same security headers, and a join passes two wrappers fewer (the site's layer and
        // the prefix-stripping a nested router adds, which rebuilds every request's URI).
        .merge(api)
        .with_state(state)
}

/// The REST API under `/api/v1` (and every other `/api/...` path, answered as an API 404),
/// with the stack every API response passes: security and API headers, the body limit,
/// the timeout.
fn api_routes(state: &AppState, hsts: bool) -> Router<AppState> {
    Router::new()
        .route("/api/v1/openapi.json", get(openapi::openapi_json))
        .route("/api/v1/venues/{venue}", get(public::venue_info))
        .route(
            "/api/v1/venues/{venue}/queues/{queue}/tickets",
            post(public::join),
        )
        .route(
            "/api/v1/tickets/{token}",
            get(public::get_ticket).delete(public::cancel_ticket),
        )
        .route("/api/v1/tickets/{token}/live", get(ws::ticket_live))
        .route("/api/v1/venues/{venue}/display", get(public::display))
        .route("/api/v1/venues/{venue}/display/ws", get(ws::display_live))
        .route("/api/v1/screens/pair", post(screens::pair))
        .route(
            "/api/v1/venues/{venue}/join-link",
            get(join_code::join_link),
        )
        .route(
            "/api/v1/venues/{venue}/join-code",
            get(join_code::get_settings).post(join_code::set_settings),
        )
        .route("/api/v1/venues/{venue}/screens", get(screens::list))
        .route(
            "/api/v1/venues/{venue}/screens/pairing-code",
            post(screens::pairing_code),
        )
        .route(
            "/api/v1/venues/{venue}/screens/settings",
            get(screens::settings).post(screens::set_settings),
        )
        .route(
            "/api/v1/venues/{venue}/screens/{id}",
            axum::routing::delete(screens::revoke),
        )
        .route("/api/v1/venues/{venue}/qr.svg", get(public::qr_svg))
        .route("/api/v1/auth/login", post(auth::login))
        .route("/api/v1/auth/logout", post(auth::logout))
        .route("/api/v1/auth/me", get(auth::me))
        .route("/api/v1/auth/password", post(auth::change_password))
        .route(
            "/api/v1/venues/{venue}/staff/{email}/reset-password",
            post(auth::reset_staff_password),
        )
        .route("/api/v1/venues/{venue}/staff", get(auth::list_staff))
        .route(
            "/api/v1/venues/{venue}/staff/{email}",
            axum::routing::delete(auth::remove_staff),
        )
        .route(
            "/api/v1/venues/{venue}/staff/{email}/role",
            post(auth::change_role),
        )
        .route("/api/v1/invites/{token}", get(invites::show))
        .route("/api/v1/invites/{token}/accept", post(invites::accept))
        .route("/api/v1/venues/{venue}/invites", post(invites::invite))
        .route(
            "/api/v1/venues/{venue}/queues",
            get(staff::queues).post(settings::add_queue),
        )
        .route(
            "/api/v1/venues/{venue}/queues/{queue}",
            axum::routing::delete(settings::remove_queue),
        )
        .route(
            "/api/v1/venues/{venue}/queues/{queue}/settings",
            post(settings::queue_settings),
        )
        .route(
            "/api/v1/venues/{venue}/counters",
            post(settings::add_counter),
        )
        .route(
            "/api/v1/venues/{venue}/counters/{counter}",
            post(settings::rename_counter).delete(settings::remove_counter),
        )
        .route("/api/v1/venues/{venue}/name", post(settings::rename_venue))
        .route(
            "/api/v1/venues/{venue}/time-zone",
            post(settings::set_time_zone),
        )
        .route("/api/v1/venues/{venue}/audit", get(staff::audit))
        .route(
            "/api/v1/venues/{venue}/dead-letters",
            get(admin::dead_letters),
        )
        .route(
            "/api/v1/venues/{venue}/dead-letters/{id}/replay",
            post(admin::replay_dead_letter),
        )
        .route("/api/v1/venues/{venue}/ws", get(ws::staff_live))
        .route(
            "/api/v1/venues/{venue}/queues/{queue}/call-next",
            post(staff::call_next),
        )
        .route(
            "/api/v1/venues/{venue}/queues/{queue}/walk-ins",
            post(staff::walk_in),
        )
        .route(
            "/api/v1/venues/{venue}/queues/{queue}/limit",
            post(settings::queue_limit),
        )
        .route(
            "/api/v1/venues/{venue}/queues/{queue}/{action}",
            post(staff::queue_action),
        )
        .route(
            "/api/v1/venues/{venue}/tickets/{id}/{action}",
            post(staff::ticket_action),
        )
        // Any other path under /api, whatever its method: an API 404, not the site's page.
        .route("/api/{*rest}", any(api_not_found))
        .method_not_allowed_fallback(method_not_allowed)
        // One stack, applied once: each `Router::layer` call boxes every route again, and a
        // request then pays a clone, a boxed future and a move of itself per call.
        .layer(
            ServiceBuilder::new()
                .map_response(move |resp| headers::security(headers::api(resp), hsts))
                .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
                // No API request may hold a connection and a task forever (a stuck storage
                // call, a client that never finishes its body). Sockets are unaffected once
                // upgraded.
                .layer(tower_http::timeout::TimeoutLayer::with_status_code(
                    StatusCode::REQUEST_TIMEOUT,
                    std::time::Duration::from_secs(state.config.request_timeout_secs.max(1)),
                )),
        )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take that method; see /api/v1/openapi.json",
    )
}

async fn api_not_found() -> ApiError {
    ApiError::not_found("not_found", "no such API route; see /api/v1/openapi.json")
}

/// The ticket page a phone is sent to right after joining may be asked of an instance that
/// has not applied the join (or a call) yet (distributed mode). Pages render from memory
/// only, so the ticket is looked for first as the API looks for it ([`public::live_token`]):
/// the page then comes with the ticket instead of loading it afterwards.
async fn ticket_page_catch_up(
    State(s): State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    if req.method() == axum::http::Method::GET
        && let Some(token) = req.uri().path().strip_prefix("/t/")
        && !token.is_empty()
        && !token.contains('/')
    {
        // Found: brought up to the log first, as a REST read is (a call made elsewhere a
        // moment ago shows).
        if let Some((v, _)) = public::live_token(&s, token).await {
            public::up_to_date(&s, &v).await;
        }
    }
    next.run(req).await
}

/// What every page render gets besides the request: its security policy, and the live state
/// to render tickets with.
fn page_context(state: &AppState) -> impl Fn() + Clone + Send + Sync + 'static {
    let data = app::ServerData(Arc::new(state.clone()));
    move || {
        page_csp();
        leptos::prelude::provide_context(data.clone());
    }
}

/// The Content-Security-Policy (and cache policy) of a rendered page. Scripts: our own files
/// plus the inline hydration loader, which carries this response's nonce (leptos_axum makes
/// one per request and puts it on the scripts it writes); `'wasm-unsafe-eval'` lets the app's
/// WebAssembly compile. Inline `style` attributes are allowed: they cannot run code.
fn page_csp() {
    use leptos::prelude::use_context;
    if let (Some(nonce), Some(res)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) {
        let policy = format!(
            "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
             style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
             media-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; \
             frame-ancestors 'none'"
        );
        if let Ok(v) = HeaderValue::from_str(&policy) {
            res.insert_header(header::CONTENT_SECURITY_POLICY, v);
        }
        // Pages are rendered per request and a ticket's holds its customer's name: browsers
        // ask again each time, shared caches (a venue's proxy, a CDN) keep none. The hashed
        // files they link are cached for good instead.
        res.insert_header(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-cache"),
        );
    }
}

/// Liveness: the process answers.
async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: ready when the live state is reachable: SQLite in embedded mode, Redis in distributed
/// mode (a MySQL outage only delays history; this instance still serves queues).
async fn readyz(State(s): State<AppState>) -> impl IntoResponse {
    let ping = match s.venues.dist() {
        Some(d) => d.ping().await,
        None => s.store.ping().await,
    };
    match ping {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"), "not ready");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "not_ready",
                "storage is unavailable",
            )
            .into_response()
        }
    }
}
