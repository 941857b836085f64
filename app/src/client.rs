//! Browser-only plumbing for the pages: the REST API over `fetch`, `localStorage`, a
//! reconnecting WebSocket, and sound/vibration.
//!
//! Everything that touches the browser lives in the `browser` module, compiled only with the
//! `hydrate` feature. Without it (the server build) the same functions exist as inert stand-ins
//! so that the pages compile unchanged: they are only ever called from effects and event
//! handlers, which never run on the server.

use serde::{Deserialize, Serialize, de::DeserializeOwned};

pub use browser::{
    LiveSocket, beep, chime, device_time_zone, form_value, load_page, local_offset_minutes,
    mark_hydrated, now_ms, speak, storage_get, storage_remove, storage_set, unlock_audio, vibrate,
};

/// `localStorage` key: the customer's tickets, a JSON array of [`SavedTicket`].
pub const TICKETS_KEY: &str = "fila.tickets";
/// `localStorage` key: the staff bearer token.
pub const STAFF_TOKEN_KEY: &str = "fila.staff.token";
/// `localStorage` key: the counter this staff device calls to.
pub const STAFF_COUNTER_KEY: &str = "fila.staff.counter";

/// State of a live connection, shown by the connection indicator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnState {
    /// First attempt in progress.
    Connecting,
    Live,
    /// Dropped (or never reached); retrying with back-off.
    Offline,
}

impl ConnState {
    /// Value of the indicator's `data-state` attribute.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnState::Connecting => "connecting",
            ConnState::Live => "live",
            ConnState::Offline => "offline",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ConnState::Connecting => "Connecting…",
            ConnState::Live => "Live",
            ConnState::Offline => "Reconnecting…",
        }
    }
}

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
    use super::{ApiError, ConnState, STAFF_TOKEN_KEY};
    use std::cell::{Cell, RefCell};
    use std::collections::HashMap;
    use std::rc::Rc;
    use wasm_bindgen::{JsCast, JsValue, closure::Closure};
    use wasm_bindgen_futures::JsFuture;
    use web_sys::{
        AudioContext, CloseEvent, Event, Headers, MessageEvent, Request, RequestInit, Response,
        SpeechSynthesisUtterance, Storage, VisibilityState, WebSocket,
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

    // ---- reconnecting WebSocket ------------------------------------------------------

    /// Handle to a reconnecting WebSocket. It is only an id (the socket itself lives in a
    /// thread-local registry), so it is `Copy + Send` and can be closed from `on_cleanup`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct LiveSocket(u32);

    type Listener = Closure<dyn FnMut(Event)>;

    struct Live {
        path: Box<dyn Fn() -> String>,
        on_text: Box<dyn Fn(String)>,
        on_state: Box<dyn Fn(ConnState)>,
        socket: RefCell<Option<Attached>>,
        timer: Cell<Option<i32>>,
        attempt: Cell<u32>,
        ever_live: Cell<bool>,
        wake: RefCell<Option<Listener>>,
    }

    /// A WebSocket and the callbacks it holds (kept alive as long as it is).
    struct Attached {
        ws: WebSocket,
        _on_open: Listener,
        _on_message: Closure<dyn FnMut(MessageEvent)>,
        _on_close: Closure<dyn FnMut(CloseEvent)>,
    }

    impl Attached {
        fn detach(self) {
            self.ws.set_onopen(None);
            self.ws.set_onmessage(None);
            self.ws.set_onclose(None);
            let _ = self.ws.close();
        }
    }

    thread_local! {
        static SOCKETS: RefCell<HashMap<u32, Rc<Live>>> = RefCell::new(HashMap::new());
        static NEXT_ID: Cell<u32> = const { Cell::new(1) };
    }

    fn live(id: u32) -> Option<Rc<Live>> {
        SOCKETS.with(|s| s.borrow().get(&id).cloned())
    }

    impl LiveSocket {
        /// Open a socket to `path()` (same host; `path` is asked again on every reconnect, so
        /// it can carry the last offset seen). `on_text` gets each text frame, `on_state`
        /// each connection state change. Reconnects with exponential back-off and jitter, and
        /// right away when the page becomes visible or the browser comes back online.
        pub fn open(
            path: impl Fn() -> String + 'static,
            on_text: impl Fn(String) + 'static,
            on_state: impl Fn(ConnState) + 'static,
        ) -> Self {
            Self::open_boxed(Box::new(path), Box::new(on_text), Box::new(on_state))
        }

        fn open_boxed(
            path: Box<dyn Fn() -> String>,
            on_text: Box<dyn Fn(String)>,
            on_state: Box<dyn Fn(ConnState)>,
        ) -> Self {
            let id = NEXT_ID.with(|n| {
                let id = n.get();
                n.set(id.wrapping_add(1).max(1));
                id
            });
            let entry = Rc::new(Live {
                path,
                on_text,
                on_state,
                socket: RefCell::new(None),
                timer: Cell::new(None),
                attempt: Cell::new(0),
                ever_live: Cell::new(false),
                wake: RefCell::new(None),
            });
            SOCKETS.with(|s| s.borrow_mut().insert(id, entry.clone()));

            let wake = Closure::<dyn FnMut(Event)>::new(move |_: Event| wake_up(id));
            let w = window();
            let _ = w.add_event_listener_with_callback("online", wake.as_ref().unchecked_ref());
            if let Some(doc) = w.document() {
                let _ = doc.add_event_listener_with_callback(
                    "visibilitychange",
                    wake.as_ref().unchecked_ref(),
                );
            }
            *entry.wake.borrow_mut() = Some(wake);

            (entry.on_state)(ConnState::Connecting);
            connect(id);
            LiveSocket(id)
        }

        /// Close for good: no more callbacks, no more reconnects.
        pub fn close(self) {
            let Some(entry) = SOCKETS.with(|s| s.borrow_mut().remove(&self.0)) else {
                return;
            };
            if let Some(t) = entry.timer.take() {
                window().clear_timeout_with_handle(t);
            }
            if let Some(wake) = entry.wake.borrow_mut().take() {
                let w = window();
                let f = wake.as_ref().unchecked_ref();
                let _ = w.remove_event_listener_with_callback("online", f);
                if let Some(doc) = w.document() {
                    let _ = doc.remove_event_listener_with_callback("visibilitychange", f);
                }
            }
            if let Some(attached) = entry.socket.borrow_mut().take() {
                attached.detach();
            }
        }
    }

    fn ws_url(path: &str) -> String {
        let loc = window().location();
        let scheme = match loc.protocol().as_deref() {
            Ok("https:") => "wss:",
            _ => "ws:",
        };
        format!("{scheme}//{}{path}", loc.host().unwrap_or_default())
    }

    fn connect(id: u32) {
        let Some(entry) = live(id) else { return };
        entry.timer.set(None);
        if let Some(old) = entry.socket.borrow_mut().take() {
            old.detach();
        }
        let ws = match WebSocket::new(&ws_url(&(entry.path)())) {
            Ok(ws) => ws,
            Err(_) => {
                dropped(id);
                return;
            }
        };
        let on_open = Closure::<dyn FnMut(Event)>::new(move |_: Event| {
            if let Some(entry) = live(id) {
                entry.attempt.set(0);
                entry.ever_live.set(true);
                (entry.on_state)(ConnState::Live);
            }
        });
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |ev: MessageEvent| {
            if let (Some(entry), Some(text)) = (live(id), ev.data().as_string()) {
                (entry.on_text)(text);
            }
        });
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |_: CloseEvent| dropped(id));
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        *entry.socket.borrow_mut() = Some(Attached {
            ws,
            _on_open: on_open,
            _on_message: on_message,
            _on_close: on_close,
        });
    }

    /// The socket closed (or could not be created): report and schedule a retry.
    fn dropped(id: u32) {
        let Some(entry) = live(id) else { return };
        // Dropping the closures of the socket that is calling us is not allowed: leave the
        // dead socket in place; `connect` replaces it.
        if entry.timer.get().is_some() {
            return;
        }
        let attempt = entry.attempt.get();
        entry.attempt.set(attempt.saturating_add(1));
        let base = (500.0 * 2f64.powi(attempt.min(5) as i32)).min(10_000.0);
        let delay = base + js_sys::Math::random() * base * 0.3;
        let cb = Closure::once_into_js(move || connect(id));
        let handle = window()
            .set_timeout_with_callback_and_timeout_and_arguments_0(cb.unchecked_ref(), delay as i32)
            .ok();
        entry.timer.set(handle);
        (entry.on_state)(if entry.ever_live.get() {
            ConnState::Offline
        } else if attempt == 0 {
            ConnState::Connecting
        } else {
            ConnState::Offline
        });
    }

    /// Page visible again or browser back online: if we are waiting to retry, retry now.
    fn wake_up(id: u32) {
        let Some(entry) = live(id) else { return };
        let hidden = window()
            .document()
            .is_some_and(|d| d.visibility_state() == VisibilityState::Hidden);
        if hidden {
            return;
        }
        if let Some(t) = entry.timer.take() {
            window().clear_timeout_with_handle(t);
            entry.attempt.set(0);
            connect(id);
        }
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
    use super::{ApiError, ConnState};

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

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct LiveSocket;

    impl LiveSocket {
        pub fn open(
            _path: impl Fn() -> String + 'static,
            _on_text: impl Fn(String) + 'static,
            _on_state: impl Fn(ConnState) + 'static,
        ) -> Self {
            LiveSocket
        }

        pub fn close(self) {}
    }

    pub fn unlock_audio() {}
    pub fn beep() {}
    pub fn chime() {}
    pub fn speak(_text: &str) {}
    pub fn vibrate(_ms: u32) {}
    pub fn load_page(_url: &str) {}
    pub fn form_value(_ev: &leptos::ev::SubmitEvent, _name: &str) -> Option<String> {
        None
    }
    pub fn mark_hydrated() {}
}
