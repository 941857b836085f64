//! `/t/:token`: the customer's ticket, live.

use super::common::{ConnectionBadge, Loading, status_label, use_param};
use crate::alerts::{self, Alert};
use crate::client::{self, ConnState, LiveSocket, Notifications, api_delete, api_get};
use crate::protocol::{TicketMessage, TicketView, format_wait};
use leptos::either::EitherOf4;
use leptos::{prelude::*, task::spawn_local};
use leptos_meta::Title;

#[derive(Clone, Debug, PartialEq)]
enum Load {
    Loading,
    NotFound,
    Failed(String),
    Ready,
}

/// The page's state; `Copy`, so callbacks can take it along.
#[derive(Clone, Copy)]
struct Tk {
    token: Memo<String>,
    ticket: RwSignal<Option<TicketView>>,
    load: RwSignal<Load>,
    conn: RwSignal<ConnState>,
    /// Offset of the last message applied.
    last: RwSignal<u64>,
    socket: StoredValue<Option<LiveSocket>>,
}

impl Tk {
    /// Load the ticket over REST; the first time, then open the live socket.
    fn load(self, token: String, first: bool) {
        spawn_local(async move {
            let result = api_get::<TicketView>(&format!("/api/v1/tickets/{token}")).await;
            // Navigated elsewhere (or away) meanwhile?
            if self.token.try_get_untracked().as_ref() != Some(&token) {
                return;
            }
            match result {
                Ok(t) => {
                    client::remember_ticket(&token, &t.venue, &t.number);
                    let live = !is_final(&t.status);
                    if t.offset >= self.last.get_untracked() {
                        self.last.set(t.offset);
                        self.ticket.set(Some(t));
                    } else if self.ticket.with_untracked(Option::is_none) {
                        self.ticket.set(Some(t));
                    }
                    self.load.set(Load::Ready);
                    if first && live {
                        self.open(token);
                    }
                }
                Err(e) if e.is_not_found() => {
                    client::forget_ticket(&token);
                    self.load.set(Load::NotFound);
                }
                Err(e) => {
                    if first {
                        self.load.set(Load::Failed(e.message));
                    }
                }
            }
        });
    }

    fn open(self, token: String) {
        let path = move || {
            let after = self.last.try_get_untracked().unwrap_or(0);
            format!("/api/v1/tickets/{token}/live?after={after}")
        };
        let socket = LiveSocket::open(
            path,
            move |text| self.apply(&text),
            move |s| self.conn.set(s),
        );
        self.socket.set_value(Some(socket));
    }

    fn close(self) {
        if let Some(s) = self.socket.try_update_value(Option::take).flatten() {
            s.close();
        }
    }

    /// One message from the live socket.
    fn apply(self, text: &str) {
        let Ok(msg) = serde_json::from_str::<TicketMessage>(text) else {
            return;
        };
        let Some(seen) = self.last.try_get_untracked() else {
            return;
        };
        let (offset, status, position, eta, counter) = match &msg {
            TicketMessage::Snapshot {
                offset,
                status,
                position,
                eta_seconds,
                counter,
                ..
            }
            | TicketMessage::Update {
                offset,
                status,
                position,
                eta_seconds,
                counter,
                ..
            } => (
                *offset,
                status.clone(),
                *position,
                *eta_seconds,
                counter.clone(),
            ),
        };
        if offset < seen {
            return;
        }
        self.last.set(offset);
        let before = self.ticket.get_untracked();
        match msg {
            TicketMessage::Snapshot { ticket: t, .. } => {
                let mut t = *t;
                t.status = status.clone();
                t.position = position;
                t.eta_seconds = eta;
                t.counter = counter.clone();
                t.offset = offset;
                self.ticket.set(Some(t));
            }
            TicketMessage::Update {
                queue,
                queue_name,
                calls,
                ..
            } => self.ticket.update(|t| {
                if let Some(t) = t {
                    t.queue = queue;
                    t.queue_name = queue_name;
                    t.calls = calls;
                    t.status = status.clone();
                    t.position = position;
                    t.eta_seconds = eta;
                    t.counter = counter.clone();
                    t.offset = offset;
                }
            }),
        }
        if let (Some(before), Some(now)) = (before, self.ticket.get_untracked())
            && let Some(alert) = alerts::alert(&before, &now)
        {
            tell(alert, &now, &self.token.get_untracked());
        }
    }
}

/// Tell the customer: buzz and beep (deferred a moment so the banner is drawn first, as
/// creating the audio context can take most of a second on a cold phone), and a system
/// notification when the page is out of sight.
fn tell(alert: Alert, t: &TicketView, token: &str) {
    let (title, body) = alerts::notification(alert, t);
    client::notify(&title, &body, "fila-ticket", &format!("/t/{token}"));
    set_timeout(
        move || match alert {
            Alert::Turn => {
                client::vibrate(600);
                client::beep();
            }
            Alert::AlmostUp => {
                client::vibrate(200);
                client::ding();
            }
        },
        std::time::Duration::from_millis(30),
    );
}

/// Served and cancelled tickets never change again.
fn is_final(status: &str) -> bool {
    matches!(status, "served" | "cancelled")
}

#[component]
pub fn TicketPage() -> impl IntoView {
    let token = use_param("token");
    // Rendered with the ticket (see `pages::rendered`): the first paint shows the number and
    // position, its cancel form works at once, and it goes live once hydrated.
    let rendered = super::rendered(|data| data.live_ticket(&token.get_untracked()));
    let tk = Tk {
        token,
        load: RwSignal::new(if rendered.is_some() {
            Load::Ready
        } else {
            Load::Loading
        }),
        last: RwSignal::new(rendered.as_ref().map_or(0, |t| t.offset)),
        ticket: RwSignal::new(rendered),
        conn: RwSignal::new(ConnState::Connecting),
        socket: StoredValue::new(None),
    };
    // The token whose ticket came with the page: its first load is already done.
    let rendered_for = StoredValue::new(
        tk.ticket
            .with_untracked(Option::is_some)
            .then(|| token.get_untracked()),
    );
    let Tk {
        token,
        ticket,
        load,
        conn,
        last,
        ..
    } = tk;
    let busy = RwSignal::new(false);
    // A cancel the browser posted by itself and the server refused (see `FormRefusal`).
    let error = RwSignal::new(super::refused().map(|r| r.error));

    Effect::new(move |_| {
        let token = token.get();
        if rendered_for
            .try_update_value(Option::take)
            .flatten()
            .as_ref()
            == Some(&token)
        {
            // Hydrating the ticket the server rendered: only go live, from its offset.
            if let Some((venue, number, status)) = ticket.with_untracked(|t| {
                t.as_ref()
                    .map(|t| (t.venue.clone(), t.number.clone(), t.status.clone()))
            }) {
                client::remember_ticket(&token, &venue, &number);
                if !is_final(&status) {
                    tk.open(token);
                }
            }
        } else {
            ticket.set(None);
            load.set(Load::Loading);
            last.set(0);
            error.set(None);
            tk.load(token, true);
        }
        on_cleanup(move || tk.close());
    });

    // Sounds need a gesture first: the first tap anywhere on the page unlocks them.
    let unlock = move |_| client::unlock_audio();

    let with_ticket =
        move |f: fn(&TicketView) -> String| ticket.with(|t| t.as_ref().map(f).unwrap_or_default());
    let status = Memo::new(move |_| with_ticket(|t| t.status.clone()));
    let status = move || status.get();
    let number = Memo::new(move |_| with_ticket(|t| t.number.clone()));
    let number = move || number.get();
    let load_state = Memo::new(move |_| load.get());
    let almost_up = Memo::new(move |_| ticket.with(|t| t.as_ref().is_some_and(alerts::almost_up)));
    let almost_up = move || almost_up.get();
    // Known only in the browser: the server renders the page without the control.
    let notify_state = RwSignal::new(Notifications::Unavailable);
    Effect::new(move |_| notify_state.set(client::notifications()));
    let enable_notifications = move |_| {
        spawn_local(async move {
            let state = client::enable_notifications().await;
            notify_state.try_set(state);
        });
    };
    let finished = move || is_final(&status());

    // Nothing more will happen to a served or cancelled ticket: stop listening.
    Effect::new(move |_| {
        if finished() {
            tk.close();
        }
    });

    let cancel_box = NodeRef::<leptos::html::Details>::new();
    let close_box = move || {
        if let Some(d) = cancel_box.get_untracked() {
            let _ = d.remove_attribute("open");
        }
    };
    let cancel = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        error.set(None);
        let token = token.get_untracked();
        spawn_local(async move {
            match api_delete::<TicketView>(&format!("/api/v1/tickets/{token}")).await {
                Ok(t) => {
                    last.try_update(|l| *l = (*l).max(t.offset));
                    ticket.try_set(Some(t));
                }
                Err(e) => {
                    error.try_set(Some(e.message));
                }
            }
            busy.try_set(false);
        });
    };

    let body = move || match load_state.get() {
        Load::Loading => EitherOf4::A(view! { <Loading/> }),
        Load::NotFound => EitherOf4::B(view! {
            <div class="card center" data-testid="ticket-not-found">
                <h1>"We can't find this ticket"</h1>
                <p>"The link may be mistyped, or the ticket is from an earlier day."</p>
                <p><a class="button" href="/">"Go to the start page"</a></p>
            </div>
        }),
        Load::Failed(msg) => EitherOf4::C(view! {
            <div class="card center">
                <h1>"Can't load your ticket"</h1>
                <p class="form-error">{msg}</p>
                <p><button class="button" on:click=move |_| { let _ = window().location().reload(); }>"Try again"</button></p>
            </div>
        }),
        Load::Ready => EitherOf4::D(view! {
            <p class="venue-line">
                <strong>{move || with_ticket(|t| t.venue_name.clone())}</strong>
                " · "
                <span data-testid="ticket-queue">{move || with_ticket(|t| t.queue_name.clone())}</span>
            </p>
            {move || (status() == "called").then(|| view! {
                <div class="your-turn" data-testid="your-turn" role="alert">
                    {format!("It's your turn — go to {}", with_ticket(|t| t.counter.clone().unwrap_or_else(|| "the counter".into())))}
                </div>
            })}
            {move || almost_up().then(|| view! {
                <div class="almost-up" data-testid="almost-up" role="status">
                    "You're almost up — please come back and stay close."
                </div>
            })}
            <section class="ticket-card" data-status=status>
                <span class="ticket-label">"Your number"</span>
                <span class="ticket-number" data-testid="ticket-number">{number}</span>
                <span class="ticket-status" data-testid="ticket-status" data-status=status>
                    {move || status_label(&status())}
                </span>
            </section>
            {move || ticket.with(|t| t.as_ref().filter(|t| t.status == "waiting").map(|t| {
                let pos = t.position.unwrap_or(0);
                let ahead_text = alerts::ahead_text(pos);
                view! {
                    <section class="ticket-stats">
                        <div class="stat">
                            <span class="stat-value" data-testid="ticket-position">{pos.to_string()}</span>
                            <span class="stat-label">{format!("You are number {pos} in line")}</span>
                            <span class="stat-sub">{ahead_text}</span>
                        </div>
                        <div class="stat">
                            <span class="stat-value small" data-testid="ticket-eta">
                                {t.eta_seconds.map(format_wait).unwrap_or_else(|| "—".into())}
                            </span>
                            <span class="stat-label">"Estimated wait"</span>
                        </div>
                    </section>
                    <p class="hint">"Keep this page open: your phone will buzz when you're almost up and when it's your turn."</p>
                }
            }))}
            // `Either`, not `into_any`: type-erased views cost the phone's wasm kilobytes.
            {move || (status() == "waiting").then(|| match notify_state.get() {
                Notifications::Off => EitherOf4::A(view! {
                    <button class="button subtle notify" data-testid="notify-me" on:click=enable_notifications>
                        "Also notify me when this page is in the background"
                    </button>
                }),
                Notifications::On => EitherOf4::B(view! {
                    <p class="hint" data-testid="notify-on">"Notifications are on: this phone will tell you even when this page is in the background."</p>
                }),
                Notifications::Blocked => EitherOf4::C(view! {
                    <p class="hint" data-testid="notify-blocked">"Notifications are blocked for this site: allow them in your browser's site settings to be told in the background."</p>
                }),
                Notifications::Unavailable => EitherOf4::D(()),
            })}
            {move || {
                let s = status();
                let venue = with_ticket(|t| t.venue.clone());
                let text = match s.as_str() {
                    "serving" => Some("Enjoy! Staff are with you now."),
                    "served" => Some("Thanks for visiting. See you again soon!"),
                    "no_show" => Some("You missed your call. Please talk to a member of staff."),
                    "cancelled" => Some("This ticket is cancelled."),
                    _ => None,
                };
                text.map(|text| view! {
                    <div class="card center finished">
                        <p>{text}</p>
                        {(s != "serving").then(|| view! {
                            <a class="button" href=format!("/v/{venue}")>"Join again"</a>
                        })}
                    </div>
                })
            }}
            {move || error.get().map(|e| view! { <p class="form-error" data-testid="ticket-error" role="alert">{e}</p> })}
            {move || {
                let s = status();
                // A `<details>`: the confirmation opens without the app, and its form posts
                // to this page (the server cancels and redirects back) until the app has
                // loaded and takes the submit over.
                (s == "waiting" || s == "called").then(|| view! {
                    <details class="cancel-box" node_ref=cancel_box>
                        <summary class="button subtle" data-testid="cancel-ticket">"Cancel my ticket"</summary>
                        <form class="card confirm" method="post" aria-label="Cancel your ticket?" on:submit=cancel>
                            <input type="hidden" name="action" value="cancel"/>
                            <p><strong>"Leave the queue?"</strong> " You will lose your place."</p>
                            <div class="button-row">
                                <button type="submit" class="button danger" data-testid="confirm-cancel" disabled=move || busy.get()>
                                    "Yes, cancel my ticket"
                                </button>
                                // Without the app, a link to this page closes it too.
                                <a class="button" href="" role="button" data-testid="keep-place" on:click=move |ev| { ev.prevent_default(); close_box(); }>
                                    "Keep my place"
                                </a>
                            </div>
                        </form>
                    </details>
                })
            }}
        }),
    };

    view! {
        // What the tab says when another one is in front.
        <Title text=super::page_title(move || {
            let n = number();
            match (n.is_empty(), status().as_str(), almost_up()) {
                (true, ..) => "Your ticket".to_string(),
                (false, "called", _) => format!("It's your turn · {n}"),
                (false, _, true) => format!("Almost up · {n}"),
                _ => format!("Ticket {n}"),
            }
        })/>
        <main class="page narrow ticket-page" on:pointerdown=unlock>
            <div class="topbar">
                <a class="brand small" href="/">"Fila"</a>
                {move || (!finished()).then(|| view! { <ConnectionBadge state=conn/> })}
            </div>
            {body}
        </main>
    }
}
