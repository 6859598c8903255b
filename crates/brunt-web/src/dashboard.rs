//! The live dashboard's HTTP server on 127.0.0.1: `/` the page, `/events` server-sent events
//! (the whole state on connect, then a point each second, the whole state again at the end),
//! `/data` the current state as JSON. No compression layer: it would buffer the event stream.

use crate::{page, ReportData};
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::{Json, Router};
use brunt_engine::server_thread;
use futures_util::stream::{self, Stream};
use std::convert::Infallible;
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

/// Events a slow page may fall behind by before it is sent the whole state again.
const BACKLOG: usize = 64;

/// State shared by the run (which updates it) and the server (which shows it).
pub(crate) struct Shared {
    pub(crate) data: Mutex<ReportData>,
    events: broadcast::Sender<Update>,
}

/// What a connected page is sent after the first state.
#[derive(Clone)]
pub(crate) enum Update {
    /// `{"point": .., "thresholds": ..}`
    Point(String),
    /// The run ended: send the whole state.
    Final,
}

impl Shared {
    pub(crate) fn new(data: ReportData) -> Arc<Shared> {
        Arc::new(Shared {
            data: Mutex::new(data),
            events: broadcast::channel(BACKLOG).0,
        })
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, ReportData> {
        self.data.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn publish(&self, update: Update) {
        // No page connected is not an error.
        let _ = self.events.send(update);
    }

    fn state_json(&self) -> String {
        serde_json::to_string(&*self.lock()).unwrap_or_else(|_| "null".into())
    }
}

/// Binds 127.0.0.1:`port` (0 for any free port) and serves on a thread of its own.
pub(crate) fn serve(port: u16, shared: Arc<Shared>) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    server_thread::spawn("dashboard", listener, |listener| async move {
        let app = Router::new()
            .route("/", get(index))
            .route("/events", get(events))
            .route("/data", get(data))
            .with_state(shared);
        let _ = axum::serve(listener, app).await;
    })
}

async fn index(State(shared): State<Arc<Shared>>) -> Html<String> {
    let data = shared.lock().clone();
    Html(page::render_live(&data))
}

async fn data(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    Json(shared.lock().clone())
}

async fn events(
    State(shared): State<Arc<Shared>>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    // Subscribe before reading the state, so no point falls between the two.
    let rx = shared.events.subscribe();
    let first = Event::default().event("state").data(shared.state_json());
    let rest = stream::unfold((rx, shared), |(mut rx, shared)| async move {
        let event = match rx.recv().await {
            Ok(Update::Point(json)) => Event::default().event("point").data(json),
            // The run ended, or this page fell behind: send everything again.
            Ok(Update::Final) | Err(broadcast::error::RecvError::Lagged(_)) => {
                Event::default().event("state").data(shared.state_json())
            }
            Err(broadcast::error::RecvError::Closed) => return None,
        };
        Some((Ok(event), (rx, shared)))
    });
    let stream = futures_util::StreamExt::chain(stream::once(async { Ok(first) }), rest);
    Sse::new(stream).keep_alive(KeepAlive::default())
}
