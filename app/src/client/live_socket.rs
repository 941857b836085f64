//! A WebSocket that reconnects by itself, for the pages' live views, and the state shown by
//! their connection indicator. Like the rest of `client`, the socket exists only in the
//! browser build; the server build gets an inert stand-in (pages open sockets from effects,
//! which never run on the server).

pub use socket::LiveSocket;

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

#[cfg(feature = "hydrate")]
mod socket {
    use super::ConnState;
    use std::cell::{Cell, RefCell};
    use std::collections::HashMap;
    use std::rc::Rc;
    use wasm_bindgen::{JsCast, closure::Closure};
    use web_sys::{CloseEvent, Event, MessageEvent, VisibilityState, WebSocket};

    fn window() -> web_sys::Window {
        web_sys::window().expect("no window")
    }

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
}

#[cfg(not(feature = "hydrate"))]
mod socket {
    use super::ConnState;

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
}
