//! The public contract: REST bodies and WebSocket messages (JSON), shared by the server, the
//! hydrated pages and the tests. Changing a field here changes the API: keep it versioned.

use serde::{Deserialize, Serialize};
#[cfg(feature = "ssr")]
use utoipa::ToSchema;

pub const API_VERSION: &str = "v1";

/// `{"error": {"code", "message"}}`, the body of every 4xx and 5xx.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `queue_paused`.
    pub code: String,
    /// A sentence for people.
    pub message: String,
}

/// Body of a join (public) or a walk-in (staff).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct JoinRequest {
    /// 1 to 80 characters.
    pub name: String,
    /// 1 to 20.
    pub party_size: i64,
    /// Up to 280 characters, optional.
    #[serde(default)]
    pub notes: Option<String>,
    /// The code in the venue screen's QR link (`?code=`), when the venue requires it.
    #[serde(default)]
    pub code: Option<String>,
}

/// `GET|POST /api/v1/venues/{venue}/join-code`: whether joining needs the rotating code
/// shown in the venue screen's QR (it changes every 10 minutes; the previous one still works).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct JoinCodeSettings {
    pub required: bool,
}

/// `GET /api/v1/venues/{venue}/join-link` (paired screens and staff): the link the QR holds now.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct JoinLink {
    pub url: String,
}

/// A ticket as its holder (or staff) sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct TicketView {
    pub id: u64,
    /// What people read and hear, e.g. `A007`.
    pub number: String,
    /// The holder's secret: returned only to the holder (join, ticket lookups, the ticket
    /// socket) and to staff who add a walk-in (to hand it over); never in staff lists.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub token: Option<String>,
    /// waiting, called, serving, served, no_show or cancelled.
    pub status: String,
    /// 1-based place in line while waiting, else null.
    pub position: Option<u32>,
    /// Estimated seconds until called while waiting, else null.
    pub eta_seconds: Option<u64>,
    /// Queue slug.
    pub queue: String,
    pub queue_name: String,
    /// Venue slug.
    pub venue: String,
    pub venue_name: String,
    pub name: String,
    pub party_size: u8,
    pub notes: Option<String>,
    pub walk_in: bool,
    /// Name of the counter or table it was called to.
    pub counter: Option<String>,
    pub calls: u32,
    /// Milliseconds since the Unix epoch.
    pub joined_at: i64,
    pub called_at: Option<i64>,
    pub finished_at: Option<i64>,
    /// Offset of the venue's event stream this view is current at.
    pub offset: u64,
}

/// Which counter: its id, or its name (case-insensitive).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
#[serde(untagged)]
pub enum CounterRef {
    Id(i64),
    Name(String),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct CallRequest {
    pub counter: CounterRef,
}

/// Body of a ticket action: `counter` for `call`; `to` (`back`, the default, or `front`) for
/// `requeue` and `move`, and `queue` for `move`. Other actions take none. Unknown fields are
/// refused, so a typo is an error rather than a silent default.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ActionRequest {
    #[serde(default)]
    pub counter: Option<CounterRef>,
    /// Target queue slug (move only).
    #[serde(default)]
    pub queue: Option<String>,
    #[serde(default)]
    pub to: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct LoginResponse {
    /// Send as `Authorization: Bearer <token>`; also set as an HttpOnly cookie.
    pub token: String,
    pub expires_at: i64,
    pub email: String,
    /// Venues this account works at, with the role at each.
    pub venues: Vec<StaffVenue>,
}

/// `POST /api/v1/venues/{venue}/invites` (owners): invite someone to work at the venue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct InviteRequest {
    pub email: String,
    /// staff, manager or owner.
    pub role: String,
}

/// A new invite. The link is shown once: only its hash is stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct InviteCreated {
    /// Give this link to the person (single use; it expires).
    pub url: String,
    pub email: String,
    pub role: String,
    pub expires_at: i64,
}

/// `GET /api/v1/invites/{token}`: what an invite is for, so the page can say it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct InviteInfo {
    pub venue: String,
    pub venue_name: String,
    pub email: String,
    pub role: String,
    pub expires_at: i64,
    /// True when this e-mail already has an account: accepting then asks for its password.
    pub existing_account: bool,
}

/// `POST /api/v1/invites/{token}/accept`: the new account's password (or, for an existing
/// account, its current password). Answered like a login.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct AcceptInvite {
    pub password: String,
}

/// `POST /api/v1/auth/password`: change your own password. Every session of the account
/// ends; the answer is a fresh login for this device.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct ChangePassword {
    pub current_password: String,
    pub new_password: String,
}

/// `POST /api/v1/venues/{venue}/staff/{email}/reset-password` (owners): a new generated
/// password for a staff member, shown once; their sessions end.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct PasswordReset {
    pub email: String,
    pub password: String,
}

/// `POST /api/v1/venues/{venue}/screens/pairing-code` (managers): a one-time code to type
/// on the venue screen, valid for 10 minutes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct PairingCode {
    pub code: String,
    pub expires_at: i64,
}

/// `POST /api/v1/screens/pair`: what the screen sends once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct PairRequest {
    pub code: String,
    /// What the dashboard lists it as, e.g. "TV by the door".
    #[serde(default)]
    pub name: String,
}

/// The screen's display-only credential: send it as `?screen=<token>` on the display
/// endpoints (or as a bearer token). It opens nothing else.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct Paired {
    pub token: String,
    pub venue: String,
    pub screen_id: i64,
}

/// A paired screen, as managers see it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct ScreenInfo {
    pub id: i64,
    pub name: String,
    pub paired_at: i64,
    pub revoked: bool,
}

/// `GET|POST /api/v1/venues/{venue}/screens/settings`: whether the venue screen only works
/// once paired (off: anyone with the link sees it; it never shows names either way).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct ScreenSettings {
    pub need_pairing: bool,
}

/// Someone who works at the venue (`GET /api/v1/venues/{venue}/staff`, managers).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct StaffMember {
    pub email: String,
    /// staff, manager or owner.
    pub role: String,
}

/// `POST /api/v1/venues/{venue}/staff/{email}/role` (owners).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct RoleChange {
    pub role: String,
}

/// `GET /api/v1/auth/me`: who the credential belongs to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct MeResponse {
    pub email: String,
    pub venues: Vec<StaffVenue>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct StaffVenue {
    pub slug: String,
    pub name: String,
    /// owner, manager or staff.
    pub role: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct CounterView {
    pub id: i64,
    pub name: String,
}

/// Public facts about a queue: enough for the join page and the venue screen.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct QueueSummary {
    pub slug: String,
    pub name: String,
    pub prefix: String,
    /// open, paused or closed.
    pub status: String,
    pub waiting: u32,
    /// Estimated wait for someone joining now.
    pub eta_seconds: u64,
    /// Most people allowed to wait at once; null when there is no limit.
    #[serde(default)]
    pub max_waiting: Option<u32>,
    /// When customers may join, in the venue's time zone; empty: whenever the queue is open.
    #[serde(default)]
    pub open_hours: Vec<HoursSlotView>,
}

/// One open-hours slot: from `open` on `day` until `close` (the next morning when `close` is
/// not after `open`, as in fri 20:00 to 03:00).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct HoursSlotView {
    /// mon, tue, wed, thu, fri, sat or sun.
    pub day: String,
    /// HH:MM.
    pub open: String,
    /// HH:MM; 24:00 for midnight at the end of the day.
    pub close: String,
}

impl HoursSlotView {
    pub fn from_hours(hours: &crate::domain::OpenHours) -> Vec<Self> {
        hours
            .slots()
            .iter()
            .map(|s| Self {
                day: s.day.as_str().to_owned(),
                open: s.open.to_string(),
                close: s.close.to_string(),
            })
            .collect()
    }

    pub fn to_hours(
        slots: &[Self],
    ) -> Result<crate::domain::OpenHours, crate::domain::hours::HoursError> {
        crate::domain::OpenHours::parse(
            slots
                .iter()
                .map(|s| (s.day.as_str(), s.open.as_str(), s.close.as_str())),
        )
    }
}

/// `POST /api/v1/venues/{venue}/queues/{queue}/settings` (managers): name, ticket prefix
/// (for numbers issued from now on) and open hours. The slug never changes: it is in printed
/// QR codes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct QueueSettings {
    pub name: String,
    /// 1-3 capital letters.
    pub prefix: String,
    /// Empty or absent: no restriction by time.
    #[serde(default)]
    pub open_hours: Vec<HoursSlotView>,
}

/// `POST /api/v1/venues/{venue}/time-zone` (owners).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct TimeZoneSetting {
    /// An IANA name such as Europe/Lisbon; empty or "UTC" for UTC.
    pub time_zone: String,
    /// In answers: the zone's offset from UTC right now, in minutes.
    #[serde(default)]
    pub utc_offset_minutes: i32,
}

/// `POST /api/v1/venues/{venue}/queues` (owners): a new queue, live at once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct NewQueue {
    /// In the join link: 1-40 lower-case letters, digits and dashes.
    pub slug: String,
    pub name: String,
    /// Ticket number prefix: 1-3 capital letters.
    pub prefix: String,
}

/// `POST /api/v1/venues/{venue}/counters` (managers): a new counter or table, live at once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct NewCounter {
    pub name: String,
}

/// `POST /api/v1/venues/{venue}/name` (owners).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct VenueName {
    pub name: String,
}

/// `POST /api/v1/venues/{venue}/queues/{queue}/limit` (managers): the queue's maximum size.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct QueueLimit {
    /// 1 to 10000; null removes the limit.
    pub max_waiting: Option<u32>,
}

/// `GET /api/v1/venues/{venue}`: public.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct VenueInfo {
    pub slug: String,
    pub name: String,
    pub queues: Vec<QueueSummary>,
    pub offset: u64,
}

/// A queue as staff see it: the line with names, and who is at a counter.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct StaffQueue {
    #[serde(flatten)]
    pub summary: QueueSummary,
    /// Waiting tickets in line order, then called and serving ones, then today's no-shows.
    pub tickets: Vec<TicketView>,
}

/// `GET /api/v1/venues/{venue}/queues` and the staff socket's snapshots.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct StaffSnapshot {
    pub venue: String,
    pub venue_name: String,
    /// The venue's IANA time zone; empty for UTC.
    #[serde(default)]
    pub time_zone: String,
    pub offset: u64,
    pub queues: Vec<StaffQueue>,
    pub counters: Vec<CounterView>,
}

/// A ticket on the venue screen: numbers only, never names.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct CalledTicket {
    pub number: String,
    pub queue: String,
    pub counter: String,
    pub called_at: i64,
    /// How many times it has been called (recalls make the screen chime again).
    pub calls: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct DisplayQueue {
    #[serde(flatten)]
    pub summary: QueueSummary,
    /// The next few numbers in line.
    pub next: Vec<String>,
}

/// `GET /api/v1/venues/{venue}/display` and the display socket's snapshots.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct DisplaySnapshot {
    pub venue: String,
    pub venue_name: String,
    pub offset: u64,
    /// Currently called tickets, newest call first.
    pub called: Vec<CalledTicket>,
    pub queues: Vec<DisplayQueue>,
    /// The page a customer opens to join (what the QR code holds).
    pub join_url: String,
}

/// One entry of a venue's audit log: every event, with the staff account that caused it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct AuditEntry {
    pub offset: u64,
    /// Milliseconds since the Unix epoch.
    pub at: i64,
    /// joined, called, status_changed, requeued or queue_status_changed.
    pub kind: String,
    pub ticket: Option<u64>,
    /// E-mail of the staff member who did it; null for customers.
    pub actor: Option<String>,
    /// The event as recorded (numbers, counters, positions; never names).
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub event: serde_json::Value,
}

/// A history entry the distributed-mode projector could not write to MySQL after 3 tries.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(ToSchema))]
pub struct DeadLetter {
    /// Id in the dead-letter stream; use it to replay.
    pub id: String,
    /// Position of the entry in the venue's command log.
    pub seq: u64,
    /// The last error MySQL (or decoding) gave.
    pub error: String,
    pub failures: u32,
    /// The log entry as recorded (command, events, tickets).
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub entry: serde_json::Value,
}

/// Messages on `GET /api/v1/tickets/{token}/live`. Every message carries the ticket's current
/// `status`, `position` and `eta_seconds`, so a client never needs another call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TicketMessage {
    /// First message, and again after any resync.
    Snapshot {
        offset: u64,
        status: String,
        position: Option<u32>,
        eta_seconds: Option<u64>,
        counter: Option<String>,
        ticket: Box<TicketView>,
    },
    Update {
        offset: u64,
        status: String,
        position: Option<u32>,
        eta_seconds: Option<u64>,
        counter: Option<String>,
        /// Times called so far; a recall increases it.
        calls: u32,
        /// Queue slug and name (they change when staff move the ticket).
        queue: String,
        queue_name: String,
    },
}

/// Messages on the staff and display sockets: each is the whole current picture.
/// Pictures are coalesced: a slow screen gets the newest one, never a backlog.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum VenueMessage<T> {
    Snapshot { offset: u64, data: T },
}

/// WebSocket close code sent when an instance is at its connection limit: try again later.
pub const CLOSE_TRY_AGAIN: u16 = 1013;

/// WebSocket close code sent to a staff or venue-screen socket whose access ended (session
/// logged out or expired, removed from the venue, screen revoked): do not just reconnect,
/// ask the REST API, which says why.
pub const CLOSE_ACCESS_ENDED: u16 = 4401;

/// Seconds into a wait estimate string like "about 5 min".
pub fn format_wait(seconds: u64) -> String {
    match seconds {
        0..=59 => "less than a minute".into(),
        60..=5399 => format!("about {} min", seconds.div_ceil(60)),
        _ => {
            let mins = seconds.div_ceil(60);
            format!("about {} h {:02} min", mins / 60, mins % 60)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_read_like_people_talk() {
        assert_eq!(format_wait(10), "less than a minute");
        assert_eq!(format_wait(61), "about 2 min");
        assert_eq!(format_wait(5400), "about 1 h 30 min");
    }

    #[test]
    fn counters_can_be_named_or_numbered() {
        let by_id: CallRequest = serde_json::from_str(r#"{"counter": 3}"#).unwrap();
        assert_eq!(by_id.counter, CounterRef::Id(3));
        let by_name: CallRequest = serde_json::from_str(r#"{"counter": "Bar 1"}"#).unwrap();
        assert_eq!(by_name.counter, CounterRef::Name("Bar 1".into()));
    }
}
