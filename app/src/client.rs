//! Browser-only plumbing for the pages: the REST API over `fetch`, `localStorage`,
//! sound/vibration and system notifications; the reconnecting WebSocket is in `live_socket`.
//!
//! Everything that touches the browser lives in the `browser` module, compiled only with the
//! `hydrate` feature. Without it (the server build) the same functions exist as inert stand-ins
//! so that the pages compile unchanged: they are only ever called from effects and event
//! handlers, which never run on the server.

mod live_socket;

use serde::{Deserialize, Serialize, de::DeserializeOwned};

pub use browser::{
    beep, chime, device_time_zone, ding, enable_notifications, form_value, load_page,
    local_offset_minutes, mark_hydrated, notifications, notify, now_ms, speak, storage_get,
    storage_remove, storage_set, unlock_audio, vibrate,
};

/// Whether this page may show system notifications (see `notify`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notifications {
    /// Not here: no Notification API or service workers, or not a secure context (a venue
    /// serving plain `http://` on its Wi-Fi). The page still buzzes and beeps.
    Unavailable,
    /// Possible, not asked yet.
    Off,
    /// The customer (or the browser) said no; only the browser's settings can undo it.
    Blocked,
    On,
}

/// `localStorage` key: the customer's tickets, a JSON array of [`SavedTicket`].
pub const TICKETS_KEY: &str = "fila.tickets";
/// `localStorage` key: the staff bearer token.
pub const STAFF_TOKEN_KEY: &str = "fila.staff.token";
/// `localStorage` key: the counter this staff device calls to.
pub const STAFF_COUNTER_KEY: &str = "fila.staff.counter";
pub use live_socket::{ConnState, LiveSocket};

/// A failed API call: the server's `{"error": {code, message}}`, or a network failure
/// (`status` 0).
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl ApiError {
    fn new(status: u16, code: &str, message: &str) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
        }
    }

    fn network() -> Self {
        Self::new(
            0,
            "network",
            "Can't reach Fila right now. Check your connection and try again.",
        )
    }

    pub fn is_unauthorized(&self) -> bool {
        self.status == 401
    }

    pub fn is_not_found(&self) -> bool {
        self.status == 404
    }
}

/// `GET path` and decode the JSON answer.
pub async fn api_get<T: DeserializeOwned>(path: &str) -> Result<T, ApiError> {
    decode(browser::request("GET", path, None).await?)
}

/// `POST path` with a JSON body and decode the JSON answer.
pub async fn api_post<T: DeserializeOwned>(
    path: &str,
    body: &impl Serialize,
) -> Result<T, ApiError> {
    let body = serde_json::to_string(body).unwrap_or_else(|_| "{}".into());
    decode(browser::request("POST", path, Some(body)).await?)
}

/// `DELETE path` and decode the JSON answer.
pub async fn api_delete<T: DeserializeOwned>(path: &str) -> Result<T, ApiError> {
    decode(browser::request("DELETE", path, None).await?)
}

fn decode<T: DeserializeOwned>(text: String) -> Result<T, ApiError> {
    let text = if text.trim().is_empty() {
        "null"
    } else {
        &text
    };
    serde_json::from_str(text).map_err(|_| {
        ApiError::new(
            0,
            "bad_response",
            "The server sent something unexpected. Please reload the page.",
        )
    })
}

/// A ticket remembered on this phone.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SavedTicket {
    pub token: String,
    pub venue: String,
    pub number: String,
}

/// The tickets remembered on this phone, oldest first.
pub fn saved_tickets() -> Vec<SavedTicket> {
    storage_get(TICKETS_KEY)
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default()
}

/// Remember a ticket (replacing an older entry with the same token); keeps the last 20.
pub fn remember_ticket(token: &str, venue: &str, number: &str) {
    let mut all = saved_tickets();
    all.retain(|t| t.token != token);
    all.push(SavedTicket {
        token: token.into(),
        venue: venue.into(),
        number: number.into(),
    });
    let skip = all.len().saturating_sub(20);
    if let Ok(json) = serde_json::to_string(&all[skip..]) {
        storage_set(TICKETS_KEY, &json);
    }
}

/// Forget a ticket this phone remembered (e.g. the server no longer knows it).
pub fn forget_ticket(token: &str) {
    let mut all = saved_tickets();
    let before = all.len();
    all.retain(|t| t.token != token);
    if all.len() != before
        && let Ok(json) = serde_json::to_string(&all)
    {
        storage_set(TICKETS_KEY, &json);
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    use super::{ApiError, Notifications, STAFF_TOKEN_KEY};
    use std::cell::RefCell;
    use wasm_bindgen::{JsCast, JsValue};
    use wasm_bindgen_futures::JsFuture;
    use web_sys::{
        AudioContext, Headers, Notification, NotificationOptions, NotificationPermission, Request,
        RequestInit, Response, ServiceWorkerRegistration, SpeechSynthesisUtterance, Storage,
        VisibilityState,
    };

    fn window() -> web_sys::Window {
        web_sys::window().expect("no window")
    }

    pub fn now_ms() -> i64 {
        js_sys::Date::now() as i64
    }

    /// Minutes to add to UTC for this browser's local time.
    pub fn local_offset_minutes() -> i32 {
        -(js_sys::Date::new_0().get_timezone_offset() as i32)
    }

    /// This browser's IANA time zone ("Europe/Lisbon"), if it says.
    pub fn device_time_zone() -> Option<String> {
        let format =
            js_sys::Intl::DateTimeFormat::new(&js_sys::Array::new(), &js_sys::Object::new());
        js_sys::Reflect::get(&format.resolved_options(), &JsValue::from_str("timeZone"))
            .ok()?
            .as_string()
    }

    // ---- localStorage ----------------------------------------------------------------

    fn storage() -> Option<Storage> {
        window().local_storage().ok().flatten()
    }

    pub fn storage_get(key: &str) -> Option<String> {
        storage()?.get_item(key).ok().flatten()
    }

    pub fn storage_set(key: &str, value: &str) {
        if let Some(s) = storage() {
            let _ = s.set_item(key, value);
        }
    }

    pub fn storage_remove(key: &str) {
        if let Some(s) = storage() {
            let _ = s.remove_item(key);
        }
    }

    // ---- fetch -----------------------------------------------------------------------

    /// One request; the answer's body as text if the status is 2xx.
    pub async fn request(
        method: &str,
        path: &str,
        body: Option<String>,
    ) -> Result<String, ApiError> {
        match send(method, path, body).await {
            Ok((status, text)) if (200..300).contains(&status) => Ok(text),
            Ok((status, text)) => Err(error_from(status, &text)),
            Err(_) => Err(ApiError::network()),
        }
    }

    fn error_from(status: u16, body: &str) -> ApiError {
        match serde_json::from_str::<crate::protocol::ErrorBody>(body) {
            Ok(b) => ApiError {
                status,
                code: b.error.code,
                message: b.error.message,
            },
            Err(_) => ApiError {
                status,
                code: "http".into(),
                message: format!("Something went wrong (HTTP {status}). Please try again."),
            },
        }
    }

    async fn send(
        method: &str,
        path: &str,
        body: Option<String>,
    ) -> Result<(u16, String), JsValue> {
        let init = RequestInit::new();
        init.set_method(method);
        let headers = Headers::new()?;
        headers.set("Accept", "application/json")?;
        if let Some(body) = body {
            headers.set("Content-Type", "application/json")?;
            init.set_body(&JsValue::from_str(&body));
        }
        if let Some(token) = storage_get(STAFF_TOKEN_KEY) {
            headers.set("Authorization", &format!("Bearer {token}"))?;
        }
        init.set_headers(&headers);
        let request = Request::new_with_str_and_init(path, &init)?;
        let response: Response = JsFuture::from(window().fetch_with_request(&request))
            .await?
            .dyn_into()?;
        let text = JsFuture::from(response.text()?).await?;
        Ok((response.status(), text.as_string().unwrap_or_default()))
    }

    // ---- sound and vibration ---------------------------------------------------------

    thread_local! {
        static AUDIO: RefCell<Option<AudioContext>> = const { RefCell::new(None) };
    }

    fn audio() -> Option<AudioContext> {
        AUDIO.with(|a| {
            let mut a = a.borrow_mut();
            if a.is_none() {
                *a = AudioContext::new().ok();
            }
            let ctx = a.clone()?;
            let _ = ctx.resume();
            Some(ctx)
        })
    }

    /// Create (or resume) the audio context: call from a user gesture so that later sounds
    /// are allowed.
    pub fn unlock_audio() {
        let _ = audio();
    }

    fn tone(ctx: &AudioContext, freq: f32, offset: f64, length: f64) -> Result<(), JsValue> {
        let t = ctx.current_time() + offset;
        let osc = ctx.create_oscillator()?;
        osc.frequency().set_value(freq);
        let gain = ctx.create_gain()?;
        let g = gain.gain();
        g.set_value_at_time(0.0001, t)?;
        g.exponential_ramp_to_value_at_time(0.35, t + 0.02)?;
        g.exponential_ramp_to_value_at_time(0.0001, t + length)?;
        osc.connect_with_audio_node(&gain)?;
        gain.connect_with_audio_node(&ctx.destination())?;
        osc.start_with_when(t)?;
        osc.stop_with_when(t + length + 0.05)?;
        Ok(())
    }

    fn tones(notes: &[(f32, f64, f64)]) {
        if let Some(ctx) = audio() {
            for &(freq, offset, length) in notes {
                let _ = tone(&ctx, freq, offset, length);
            }
        }
    }

    /// A short double beep (the phone, when called).
    pub fn beep() {
        tones(&[(880.0, 0.0, 0.18), (880.0, 0.28, 0.18)]);
    }

    /// One soft tone (the phone, almost up).
    pub fn ding() {
        tones(&[(660.0, 0.0, 0.3)]);
    }

    /// A two-tone chime (the venue screen).
    pub fn chime() {
        tones(&[(784.0, 0.0, 0.6), (523.25, 0.45, 0.9)]);
    }

    /// Say `text` aloud with the browser's speech synthesis, if any.
    pub fn speak(text: &str) {
        let Ok(synth) = window().speech_synthesis() else {
            return;
        };
        if let Ok(u) = SpeechSynthesisUtterance::new_with_text(text) {
            u.set_rate(0.9);
            synth.speak(&u);
        }
    }

    /// Vibrate for `ms` milliseconds where the device allows.
    pub fn vibrate(ms: u32) {
        let _ = window().navigator().vibrate_with_duration(ms);
    }

    // ---- system notifications --------------------------------------------------------

    /// A secure context with the Notification API and service workers: Android's Chrome
    /// shows a page's notifications only through a service worker (`public/sw.js`).
    fn can_notify() -> bool {
        let w = window();
        let has = |target: &JsValue, name: &str| {
            js_sys::Reflect::has(target, &JsValue::from_str(name)).unwrap_or(false)
        };
        w.is_secure_context() && has(&w, "Notification") && has(&w.navigator(), "serviceWorker")
    }

    pub fn notifications() -> Notifications {
        if !can_notify() {
            return Notifications::Unavailable;
        }
        match Notification::permission() {
            NotificationPermission::Granted => Notifications::On,
            NotificationPermission::Denied => Notifications::Blocked,
            _ => Notifications::Off,
        }
    }

    /// Ask for notifications (call from a tap: browsers only ask then) and, if allowed,
    /// install the service worker that shows them.
    pub async fn enable_notifications() -> Notifications {
        if notifications() == Notifications::Off
            && let Ok(asked) = Notification::request_permission()
        {
            let _ = JsFuture::from(asked).await;
        }
        let state = notifications();
        if state == Notifications::On {
            let registered = window().navigator().service_worker().register("/sw.js");
            let _ = JsFuture::from(registered).await;
        }
        state
    }

    /// Show a system notification, replacing the one with the same `tag`, when the page is
    /// out of sight (a phone in a pocket, another tab) and notifications are on; tapping it
    /// opens `url`. In sight, the page says it itself.
    pub fn notify(title: &str, body: &str, tag: &str, url: &str) {
        let hidden = window()
            .document()
            .is_some_and(|d| d.visibility_state() == VisibilityState::Hidden);
        if !hidden || notifications() != Notifications::On {
            return;
        }
        let options = NotificationOptions::new();
        options.set_body(body);
        options.set_tag(tag);
        options.set_renotify(true);
        options.set_data(&JsValue::from_str(url));
        let title = title.to_owned();
        wasm_bindgen_futures::spawn_local(async move {
            let container = window().navigator().service_worker();
            // Installed by `enable_notifications`, on this visit or an earlier one.
            let registered = container.register("/sw.js");
            if JsFuture::from(registered).await.is_err() {
                return;
            }
            let Ok(ready) = container.ready() else {
                return;
            };
            let Ok(registration) = JsFuture::from(ready).await else {
                return;
            };
            let registration: ServiceWorkerRegistration = registration.unchecked_into();
            if let Ok(shown) = registration.show_notification_with_options(&title, &options) {
                let _ = JsFuture::from(shown).await;
            }
        });
    }

    /// A full page load of `url` (leaving the client-side router).
    pub fn load_page(url: &str) {
        let _ = window().location().replace(url);
    }

    /// The field `name` of the form that `ev` submits, as the browser would post it (a radio
    /// group: the checked one's value; `None` when none is checked).
    pub fn form_value(ev: &web_sys::SubmitEvent, name: &str) -> Option<String> {
        let form = ev.target()?.dyn_into::<web_sys::HtmlFormElement>().ok()?;
        web_sys::FormData::new_with_form(&form)
            .ok()?
            .get(name)
            .as_string()
    }

    /// `<html data-hydrated>`: the app has taken over the page (tests and the page-weight
    /// measurement wait for it; forms work before it, see `pages::FormRefusal`).
    pub fn mark_hydrated() {
        if let Some(html) = window().document().and_then(|d| d.document_element()) {
            let _ = html.set_attribute("data-hydrated", "");
        }
    }
}

#[cfg(not(feature = "hydrate"))]
mod browser {
    //! Inert stand-ins for the server build: never called there.
    use super::ApiError;

    pub fn now_ms() -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64)
    }

    /// On the server nothing is rendered with local times (they appear after hydration).
    pub fn local_offset_minutes() -> i32 {
        0
    }

    pub fn device_time_zone() -> Option<String> {
        None
    }

    pub fn storage_get(_key: &str) -> Option<String> {
        None
    }

    pub fn storage_set(_key: &str, _value: &str) {}

    pub fn storage_remove(_key: &str) {}

    pub async fn request(
        _method: &str,
        _path: &str,
        _body: Option<String>,
    ) -> Result<String, ApiError> {
        Err(ApiError::network())
    }

    pub fn unlock_audio() {}
    pub fn beep() {}
    pub fn ding() {}
    pub fn notifications() -> super::Notifications {
        super::Notifications::Unavailable
    }
    pub async fn enable_notifications() -> super::Notifications {
        super::Notifications::Unavailable
    }
    pub fn notify(_title: &str, _body: &str, _tag: &str, _url: &str) {}
    pub fn chime() {}
    pub fn speak(_text: &str) {}
    pub fn vibrate(_ms: u32) {}
    pub fn load_page(_url: &str) {}
    pub fn form_value(_ev: &leptos::ev::SubmitEvent, _name: &str) -> Option<String> {
        None
    }
    pub fn mark_hydrated() {}
}
