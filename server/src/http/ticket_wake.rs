//! What a ticket socket waits on besides its venue's events, and how: the socket's input and
//! its keep-alive ping, each polled only when there is something to see. A call moves every
//! watcher, so every poll in a ticket socket's loop is paid once per watcher per call.
//!
//! And what it does when its phone is slow: a send that had to wait for room in the
//! connection is noted ([`send_noting_wait`]), and the next update takes in every event that
//! came meanwhile ([`catch_up`]), so the phone gets the newest state, not the backlog. A
//! phone that never reads again is let go by its connection's write deadline
//! (`write_deadline`): the send then fails.

use crate::venues::{EVENT_BUFFER, Live};
use app::position::Watch;
use axum::extract::ws::{Message, WebSocket};
use futures_util::StreamExt;
use futures_util::task::AtomicWaker;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

/// What woke a ticket socket.
pub(super) enum Next {
    Event(Result<Live, RecvError>),
    Input(Option<Result<Message, axum::Error>>),
}

/// A ticket socket's input, polled only after a wake for it (or after it gave a message:
/// more may be buffered), not after every update the socket sends: that poll went through
/// tungstenite and the I/O driver for nothing. Without it (and `select!`'s shuffling), a
/// watcher cost 3.6–3.7 µs of server CPU per call instead of 3.9–4.1 at 1,000 watchers.
///
/// The socket's reads are polled with a waker of this flag's own, which records the wake
/// and then wakes the task.
pub(super) struct Input {
    flag: Arc<InputFlag>,
    waker: Waker,
}

struct InputFlag {
    /// Set by a wake for input, and at first.
    woken: AtomicBool,
    task: AtomicWaker,
}

impl std::task::Wake for InputFlag {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref()
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.task.wake();
    }
}

impl Input {
    pub(super) fn new() -> Self {
        let flag = Arc::new(InputFlag {
            woken: AtomicBool::new(true),
            task: AtomicWaker::new(),
        });
        Self {
            waker: Waker::from(flag.clone()),
            flag,
        }
    }

    /// The next event of the venue or, once woken for it, message of the socket. Events first:
    /// when one is there, nothing else is polled before it.
    pub(super) async fn next(
        &self,
        events: &mut broadcast::Receiver<Live>,
        socket: &mut WebSocket,
    ) -> Next {
        let recv = events.recv();
        tokio::pin!(recv);
        std::future::poll_fn(|cx| {
            if let Poll::Ready(ev) = recv.as_mut().poll(cx) {
                return Poll::Ready(Next::Event(ev));
            }
            self.poll(socket, cx).map(Next::Input)
        })
        .await
    }

    /// The socket's next message, if woken for input since it last said it had none.
    fn poll(
        &self,
        socket: &mut WebSocket,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Message, axum::Error>>> {
        if !self.flag.woken.swap(false, Ordering::AcqRel) {
            return Poll::Pending;
        }
        // Registered before the poll: a wake during it is not lost.
        self.flag.task.register(cx.waker());
        let polled = socket.poll_next_unpin(&mut Context::from_waker(&self.waker));
        if polled.is_ready() {
            self.flag.woken.store(true, Ordering::Release);
        }
        polled
    }
}

/// A ticket socket's keep-alive: the timer is polled once per ping to hold the task's waker,
/// not after every update (polling it there was about 80 ns of the 4.3 µs a watcher cost per
/// call). When it fires the task wakes, and [`Pinger::due`] reads that without polling.
pub(super) struct Pinger {
    sleep: Pin<Box<tokio::time::Sleep>>,
    every: Duration,
    /// Whether the timer holds this task's waker for its current deadline.
    armed: bool,
}

impl Pinger {
    pub(super) fn new(every: Duration) -> Self {
        Self {
            sleep: Box::pin(tokio::time::sleep(every)),
            every,
            armed: false,
        }
    }

    /// Whether a ping is due; if so, the next one is scheduled (and must be [`armed`]).
    ///
    /// [`armed`]: Pinger::arm
    pub(super) fn due(&mut self) -> bool {
        if !self.sleep.is_elapsed() {
            return false;
        }
        self.sleep
            .as_mut()
            .reset(tokio::time::Instant::now() + self.every);
        self.armed = false;
        true
    }

    /// Hands the timer this task's waker, once per deadline; at once when it has it.
    pub(super) async fn arm(&mut self) {
        if self.armed {
            return;
        }
        // Outside the task's budget: a poll refused for budget would register nothing, and
        // an idle socket would never ping again.
        let mut sleep = tokio::task::coop::unconstrained(self.sleep.as_mut());
        std::future::poll_fn(|cx| {
            let _ = Pin::new(&mut sleep).poll(cx);
            Poll::Ready(())
        })
        .await;
        self.armed = true;
    }
}

/// Send `msg`; `Ok(true)` if the send had to wait for room in the connection, that is, the
/// phone does not read as fast as it is sent to (or, rarely, the task's budget ran out:
/// the cost of that is one [`catch_up`] that finds nothing).
pub(super) async fn send_noting_wait(
    socket: &mut WebSocket,
    msg: Message,
) -> Result<bool, axum::Error> {
    let mut waited = false;
    let send = socket.send(msg);
    tokio::pin!(send);
    std::future::poll_fn(|cx| {
        let polled = send.as_mut().poll(cx);
        waited |= polled.is_pending();
        polled
    })
    .await
    .map(|()| waited)
}

/// Apply to `watch` every event already waiting, without waiting for more; returns what
/// stopped it if that was not "nothing more" (a reload, a stop, a lag), to be handled next.
pub(super) fn catch_up(
    events: &mut broadcast::Receiver<Live>,
    watch: &mut Watch,
) -> Option<Result<Live, RecvError>> {
    // Bounded: the channel holds at most this many, and the writer may keep adding.
    for _ in 0..EVENT_BUFFER {
        match events.try_recv() {
            Ok(Live::Event(env)) => {
                watch.apply(&env);
            }
            Ok(other) => return Some(Ok(other)),
            Err(TryRecvError::Empty) => return None,
            Err(TryRecvError::Lagged(n)) => return Some(Err(RecvError::Lagged(n))),
            Err(TryRecvError::Closed) => return Some(Err(RecvError::Closed)),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pending until the task is woken once: nothing here registers a waker, so only what
    /// the loop armed can wake it.
    async fn woken() {
        let mut polled = false;
        std::future::poll_fn(|_| {
            if polled {
                Poll::Ready(())
            } else {
                polled = true;
                Poll::Pending
            }
        })
        .await
    }

    /// A recall of ticket 1 at `offset`: each one bumps its watch's `calls`.
    fn recall(offset: u64) -> Live {
        use app::domain::{CounterId, Event, EventEnvelope, QueueId, TicketId, TicketNumber};
        Live::Event(Arc::new(EventEnvelope {
            offset,
            at: 0,
            event: Event::Called {
                ticket: TicketId(1),
                queue: QueueId(1),
                number: TicketNumber("A001".into()),
                counter: CounterId(1),
                from_position: None,
                recall: true,
                pace_ms: 0,
            },
        }))
    }

    fn called_once() -> Watch {
        use app::domain::{CounterId, QueueId, TicketId, TicketStatus};
        Watch {
            ticket: TicketId(1),
            queue: QueueId(1),
            status: TicketStatus::Called,
            position: None,
            counter: Some(CounterId(1)),
            calls: 1,
            pace_ms: 0,
            offset: 1,
        }
    }

    #[test]
    fn catching_up_applies_what_waits_and_hands_back_what_is_not_an_event() {
        let (tx, mut rx) = broadcast::channel(16);
        let mut watch = called_once();
        for offset in 2..=4 {
            tx.send(recall(offset)).unwrap();
        }
        tx.send(Live::Reload).unwrap();
        tx.send(recall(5)).unwrap();
        // Up to the reload, which is the socket's to handle next.
        assert!(matches!(
            catch_up(&mut rx, &mut watch),
            Some(Ok(Live::Reload))
        ));
        assert_eq!((watch.calls, watch.offset), (4, 4));
        // Then the rest, and nothing is waiting.
        assert!(catch_up(&mut rx, &mut watch).is_none());
        assert_eq!((watch.calls, watch.offset), (5, 5));
        // A receiver that fell behind the channel is told so, not given a guess.
        let (tx, mut rx) = broadcast::channel(2);
        let mut watch = called_once();
        for offset in 2..=5 {
            tx.send(recall(offset)).unwrap();
        }
        assert!(matches!(
            catch_up(&mut rx, &mut watch),
            Some(Err(RecvError::Lagged(2)))
        ));
        assert_eq!(watch.calls, 1);
        // What the channel still holds comes next; once it is drained, a closed channel
        // ends the socket.
        drop(tx);
        assert!(matches!(
            catch_up(&mut rx, &mut watch),
            Some(Err(RecvError::Closed))
        ));
        assert_eq!((watch.calls, watch.offset), (3, 5));
    }

    #[tokio::test]
    async fn an_idle_socket_is_woken_for_every_ping() {
        let every = Duration::from_millis(30);
        let started = tokio::time::Instant::now();
        let pings = async {
            let mut ping = Pinger::new(every);
            let mut pings = 0;
            // The ticket socket's loop with no events and no input: nothing but the timer can
            // wake it, so a ping the timer does not wake it for never comes.
            while pings < 3 {
                if ping.due() {
                    pings += 1;
                }
                ping.arm().await;
                woken().await;
            }
        };
        tokio::time::timeout(Duration::from_secs(5), pings)
            .await
            .expect("three pings");
        assert!(started.elapsed() >= every * 3, "{:?}", started.elapsed());
    }
}
