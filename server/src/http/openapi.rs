//! The OpenAPI 3 document, generated from the handlers' annotations, and a readable API page.

use super::{admin, auth, invites, join_code, public, screens, settings, staff, ws};
use app::protocol::*;
use axum::Json;
use axum::response::Html;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "Fila API", version = "1", description = "Realtime queues for venues. \
        Errors are `{\"error\": {\"code\", \"message\"}}` with a 4xx (or 503 when storage is down)."),
    paths(
        public::venue_info, public::join, public::get_ticket, public::cancel_ticket,
        public::display, public::qr_svg, ws::ticket_live, ws::display_live,
        auth::login, auth::logout, auth::me,
        staff::queues, staff::call_next, staff::walk_in, settings::add_queue, settings::add_counter, settings::rename_venue, settings::queue_limit, settings::queue_settings, settings::remove_queue, settings::rename_counter, settings::remove_counter, settings::set_time_zone, staff::queue_action, staff::ticket_action, staff::audit,
        admin::dead_letters, admin::replay_dead_letter,
        invites::invite, invites::show, invites::accept,
        auth::change_password, auth::reset_staff_password, auth::list_staff, auth::change_role, auth::remove_staff,
        join_code::get_settings, join_code::set_settings, join_code::join_link,
        screens::pairing_code, screens::pair, screens::list, screens::revoke, screens::settings, screens::set_settings,
        ws::staff_live,
    ),
    components(schemas(StaffMember, RoleChange, JoinCodeSettings, JoinLink, NewQueue, NewCounter, VenueName, QueueLimit, PairingCode, PairRequest, Paired, ScreenInfo, ScreenSettings, ChangePassword, PasswordReset, DeadLetter, InviteRequest, InviteCreated, InviteInfo, AcceptInvite, ErrorBody, ErrorDetail, JoinRequest, TicketView, CounterRef, CallRequest,
        ActionRequest, LoginRequest, LoginResponse, MeResponse, StaffVenue, CounterView, QueueSummary,
        VenueInfo, StaffQueue, StaffSnapshot, CalledTicket, DisplayQueue, DisplaySnapshot,
        AuditEntry)),
    modifiers(&BearerAuth),
    tags((name = "public", description = "Customers and venue screens"),
        (name = "staff", description = "Logged-in staff"))
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `GET /api`: every route with its summary, for people; the JSON document is for machines.
pub async fn api_page() -> Html<String> {
    let doc = ApiDoc::openapi();
    let mut rows = String::new();
    for (path, item) in &doc.paths.paths {
        let ops = [
            ("GET", &item.get),
            ("POST", &item.post),
            ("DELETE", &item.delete),
        ];
        for (method, op) in ops {
            let Some(op) = op else { continue };
            let summary = op.summary.as_deref().unwrap_or("");
            let description = op.description.as_deref().unwrap_or("");
            let tag = op
                .tags
                .as_ref()
                .and_then(|t| t.first())
                .map_or("", String::as_str);
            rows.push_str(&format!(
                "<tr><td><code>{method}</code></td><td><code>{}</code></td><td>{tag}</td><td>{}<br><small>{}</small></td></tr>\n",
                escape(path),
                escape(summary),
                escape(description)
            ));
        }
    }
    Html(format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Fila API</title>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <style>body{{font-family:system-ui,sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem}}\
         td{{padding:.4rem .6rem;border-bottom:1px solid #ddd;vertical-align:top}}small{{color:#555}}</style></head>\
         <body><h1>Fila API v1</h1><p>The machine-readable contract is at \
         <a href=\"/api/v1/openapi.json\">/api/v1/openapi.json</a> (OpenAPI 3). Staff routes need \
         <code>Authorization: Bearer &lt;token&gt;</code> from <code>POST /api/v1/auth/login</code>. \
         Errors are <code>{{\"error\": {{\"code\", \"message\"}}}}</code>.</p>\
         <table><tr><th>Method</th><th>Path</th><th>Who</th><th>What</th></tr>{rows}</table></body></html>"
    ))
}
