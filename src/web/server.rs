//! The HTTP side of the web view (axum): the page and its assets, the state stream, the
//! node panel and link actions.
//!
//! ```text
//!   GET  /                 the page, with the Graph inside it (first draw needs no fetch)
//!   GET  /app.js /app.css  the bundled assets
//!   GET  /api/graph        the Graph
//!   GET  /api/state        the latest Tick
//!   GET  /api/events       server-sent events: one Tick a second
//!   GET  /api/node/NAME    interfaces, addresses, routes, services with log lines, BGP
//!   POST /api/link/ID      {"action": "down" | "up" | "set", "set": ["delay=20ms", …]}
//! ```
//!
//! The ticker samples only while a stream is open: a server nobody watches costs nothing.
//! Every request must name the server by address (`Host: 127.0.0.1:PORT`, `[::1]:PORT`,
//! `localhost:PORT`; any IP literal with our port): a host name is refused, which defeats
//! DNS rebinding (a page elsewhere whose name is made to point at us). A POST must also be
//! JSON and come from the page's own origin (a page elsewhere can neither send JSON without
//! a preflight we never grant, nor pass the Origin check).

use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use futures::{Stream, StreamExt};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::{Notify, watch};

use super::model::{Graph, TickInput, tick};
use super::sample::{Daemons, Sampler, live};
use super::{APP_CSS, APP_JS, INDEX_HTML, WebError};
use crate::compile::Plan;
use crate::daemon;
use crate::lab::control::{self, Request};
use crate::lab::links::LinkAction;
use crate::lab::service::{NodeOp, daemon_socket};

/// Most `KEY=VALUE` words one `set` may carry, and the longest word.
const MAX_SET_WORDS: usize = 32;
const MAX_WORD: usize = 128;

/// What `serve` needs.
pub struct WebOptions {
    pub plan: Plan,
    /// The lab's run directory (its control socket, daemon sockets and logs).
    pub run_dir: PathBuf,
    /// Time between ticks.
    pub interval: Duration,
}

struct App {
    plan: Plan,
    run_dir: PathBuf,
    graph: Graph,
    page: String,
    sampler: Mutex<Sampler>,
    daemons: Daemons,
    /// Ticks sampled so far, and the BGP summaries of the last tick that asked.
    bgp: Mutex<(u64, Vec<(String, serde_json::Value)>)>,
    latest: watch::Sender<Arc<String>>,
    wake: Notify,
    interval: Duration,
    started: Instant,
}

type Shared = Arc<App>;

/// The page with the graph in it (`<` and `>` escaped so that nothing in the JSON can end
/// the script element).
pub fn page(graph: &Graph) -> String {
    let json = serde_json::to_string(graph)
        .unwrap_or_default()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026");
    INDEX_HTML.replace("{{GRAPH}}", &json)
}

/// Serves the web view of the lab on `listener` until the lab's run directory is gone.
pub async fn serve(listener: tokio::net::TcpListener, opts: WebOptions) -> Result<(), WebError> {
    let plan2 = opts.plan.clone();
    let sampler = tokio::task::spawn_blocking(move || Sampler::open(&plan2))
        .await
        .map_err(|e| WebError::Io(std::io::Error::other(e)))??;
    let graph = Graph::from_plan(&opts.plan, opts.interval.as_millis() as u64);
    let app = Arc::new(App {
        daemons: Daemons::of(&opts.plan, &opts.run_dir),
        page: page(&graph),
        graph,
        plan: opts.plan,
        run_dir: opts.run_dir,
        sampler: Mutex::new(sampler),
        bgp: Mutex::new((0, Vec::new())),
        latest: watch::channel(Arc::new(String::new())).0,
        wake: Notify::new(),
        interval: opts.interval,
        started: Instant::now(),
    });
    let port = listener.local_addr().map_err(WebError::Io)?.port();
    let router = Router::new()
        .route("/", get(index))
        .route("/app.js", get(app_js))
        .route("/app.css", get(app_css))
        .route("/api/graph", get(graph_json))
        .route("/api/state", get(state_json))
        .route("/api/events", get(events))
        .route("/api/node/{name}", get(node_json))
        .route("/api/link/{id}", post(link_action))
        .layer(DefaultBodyLimit::max(16 * 1024))
        .layer(axum::middleware::from_fn(move |req, next| {
            by_address(port, req, next)
        }))
        .with_state(app.clone());
    let ticker = tokio::spawn(ticker(app.clone()));
    let watcher = tokio::spawn(watcher(app.clone()));
    let gone = lab_gone(app.run_dir.clone());
    let server = axum::serve(listener, router).with_graceful_shutdown(gone);
    let r = server.await;
    ticker.abort();
    watcher.abort();
    r.map_err(WebError::Io)
}

/// Refuses a request whose Host is not an address of ours (see the module's notes).
async fn by_address(
    port: u16,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok());
    if !host.is_some_and(|h| host_is_address(h, port)) {
        return error(
            StatusCode::FORBIDDEN,
            "name this server by its address (127.0.0.1, [::1] or localhost)".into(),
        );
    }
    next.run(req).await
}

/// `Host` names us by address: an IP literal or `localhost`, with our port.
pub fn host_is_address(host: &str, port: u16) -> bool {
    if let Ok(a) = host.parse::<std::net::SocketAddr>() {
        return a.port() == port;
    }
    host.strip_prefix("localhost:")
        .and_then(|p| p.parse::<u16>().ok())
        .is_some_and(|p| p == port)
}

/// Resolves once the lab's run directory has gone (the lab is down).
async fn lab_gone(dir: PathBuf) {
    while dir.exists() {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Samples and publishes a tick each interval while someone watches.
async fn ticker(app: Shared) {
    let mut every = tokio::time::interval(app.interval);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut prev: Option<(Instant, super::model::Counters)> = None;
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = app.wake.notified() => {}
        }
        if app.latest.receiver_count() == 0 {
            prev = None;
            continue;
        }
        let a = app.clone();
        let last = prev.take();
        let r = tokio::task::spawn_blocking(move || sample(&a, last)).await;
        let Ok((json, now)) = r else { continue };
        prev = Some(now);
        app.latest.send_replace(Arc::new(json));
    }
}

/// How often the watcher asks the supervisor whether a link or a service changed state.
const WATCH: Duration = Duration::from_millis(200);

/// While someone watches, asks the supervisor every [`WATCH`] for its links' and services'
/// states (one cheap `Live` request) and wakes the ticker when they changed: a link taken
/// down by `topolab link` or a scenario shows within [`WATCH`] plus one sample, not at
/// the next whole interval.
async fn watcher(app: Shared) {
    use std::hash::{Hash, Hasher};
    let mut every = tokio::time::interval(WATCH);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last: Option<u64> = None;
    loop {
        every.tick().await;
        if app.latest.receiver_count() == 0 {
            last = None;
            continue;
        }
        let dir = app.run_dir.clone();
        let Ok(Ok((links, services))) = tokio::task::spawn_blocking(move || live(&dir)).await
        else {
            continue;
        };
        let mut h = std::collections::hash_map::DefaultHasher::new();
        for l in &links {
            (l.link, l.up).hash(&mut h);
        }
        for s in &services {
            (&s.node, &s.name, s.state.label()).hash(&mut h);
        }
        let sig = h.finish();
        if last.is_some_and(|l| l != sig) {
            app.wake.notify_one();
        }
        last = Some(sig);
    }
}

/// BGP speakers are asked for their sessions every this many ticks (a summary costs a
/// speaker more than anything else in a tick: with 180 speakers, asking every second took
/// the lab's CPU from 7% to 23% of a CPU in `topolab bench web`).
const BGP_EVERY: u64 = 5;

/// One tick: counters, the supervisor's state, the daemons' views.
fn sample(
    app: &App,
    prev: Option<(Instant, super::model::Counters)>,
) -> (String, (Instant, super::model::Counters)) {
    let at = Instant::now();
    let now = app
        .sampler
        .lock()
        .map(|mut s| s.counters())
        .unwrap_or_default();
    let mut errors = Vec::new();
    let (links, services) = match live(&app.run_dir) {
        Ok((l, s)) => (Some(l), s),
        Err(e) => {
            errors.push(format!("the supervisor does not answer: {e}"));
            (None, Vec::new())
        }
    };
    let bgp = {
        let mut b = app.bgp.lock().unwrap_or_else(|e| e.into_inner());
        if b.0.is_multiple_of(BGP_EVERY) {
            b.1 = app.daemons.bgp();
        }
        b.0 += 1;
        b.1.clone()
    };
    let openflow = app.daemons.openflow();
    let t = tick(
        &app.plan,
        TickInput {
            t: at.duration_since(app.started).as_secs_f64(),
            dt: prev
                .as_ref()
                .map_or(0.0, |(p, _)| at.duration_since(*p).as_secs_f64()),
            prev: prev.as_ref().map(|(_, c)| c),
            now: &now,
            links: links.as_deref(),
            services: &services,
            bgp: &bgp,
            openflow: &openflow,
            errors,
        },
    );
    (serde_json::to_string(&t).unwrap_or_default(), (at, now))
}

async fn index(State(app): State<Shared>) -> Html<String> {
    Html(app.page.clone())
}

async fn app_js() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        APP_JS,
    )
}

async fn app_css() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], APP_CSS)
}

async fn graph_json(State(app): State<Shared>) -> Json<Graph> {
    Json(app.graph.clone())
}

/// The latest tick (a fresh one if nobody is watching).
async fn state_json(State(app): State<Shared>) -> Response {
    let a = app.clone();
    match tokio::task::spawn_blocking(move || sample(&a, None).0).await {
        Ok(s) => ([(header::CONTENT_TYPE, "application/json")], s).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn events(State(app): State<Shared>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let mut rx = app.latest.subscribe();
    rx.mark_changed();
    app.wake.notify_one();
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.changed().await.ok()?;
        let v = rx.borrow_and_update().clone();
        Some((v, rx))
    })
    .filter(|v| std::future::ready(!v.is_empty()))
    .map(|v| Ok(Event::default().event("tick").data(v.as_str())));
    Sse::new(stream).keep_alive(KeepAlive::default())
}

fn error(code: StatusCode, message: String) -> Response {
    (code, Json(json!({ "error": message }))).into_response()
}

/// Interfaces, addresses, routes, services (with their last log lines) and daemon views
/// of one node. `name` is only compared with the Plan's node names.
async fn node_json(State(app): State<Shared>, Path(name): Path<String>) -> Response {
    let Some(idx) = app
        .plan
        .nodes
        .iter()
        .position(|n| n.name == name && !n.kind.is_internal())
    else {
        return error(
            StatusCode::NOT_FOUND,
            format!("no node `{name}` in this lab"),
        );
    };
    let a = app.clone();
    let r = tokio::task::spawn_blocking(move || {
        let n = &a.plan.nodes[idx];
        let kernel = a.sampler.lock().map(|mut s| s.node_kernel(idx));
        let kernel = match kernel {
            Ok(Ok(k)) => json!(k),
            Ok(Err(e)) => json!({ "error": e.to_string() }),
            Err(_) => json!({ "error": "sampler poisoned" }),
        };
        let req = Request::Node {
            node: n.name.clone(),
            service: None,
            action: NodeOp::Status,
        };
        let services = match control::call(&a.run_dir, &req, Duration::from_secs(5)) {
            Ok(control::Response::Services { services }) => json!(services),
            Ok(other) => json!({ "error": format!("{other:?}") }),
            Err(e) => json!({ "error": e.to_string() }),
        };
        let view = |kinds: &[daemon::DaemonKind], req: daemon::Request| {
            let sock = daemon_socket(&a.run_dir, n, kinds)?;
            Some(match daemon::call(&sock, &req, Duration::from_secs(5)) {
                Ok(
                    daemon::Response::Bgp { data, .. } | daemon::Response::Openflow { data, .. },
                ) => data,
                Ok(other) => json!({ "error": format!("{other:?}") }),
                Err(e) => json!({ "error": e.to_string() }),
            })
        };
        let bgp = view(
            &[daemon::DaemonKind::Bgp],
            daemon::Request::Bgp {
                view: "summary".into(),
                peer: None,
                prefix: None,
            },
        );
        let openflow = match n.kind {
            crate::topology::NodeKind::Controller => view(
                &[daemon::DaemonKind::Controller],
                daemon::Request::Openflow {
                    view: "switches".into(),
                },
            ),
            _ => view(
                &[daemon::DaemonKind::OfSwitch],
                daemon::Request::Openflow {
                    view: "ports".into(),
                },
            ),
        };
        json!({
            "name": n.name,
            "kind": format!("{:?}", n.kind).to_lowercase(),
            "kernel": kernel,
            "services": services,
            "bgp": bgp,
            "openflow": openflow,
        })
    })
    .await;
    match r {
        Ok(v) => Json(v).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// A link action as the page sends it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkRequest {
    pub action: String,
    #[serde(default)]
    pub set: Vec<String>,
}

/// Checks a link request: the action is one of ours, `set` words are few, short and
/// parse as `topolab link … set` parses them.
pub fn link_action_of(req: &LinkRequest) -> Result<LinkAction, String> {
    match req.action.as_str() {
        "down" | "up" if !req.set.is_empty() => Err(format!("`{}` takes no settings", req.action)),
        "down" => Ok(LinkAction::Down),
        "up" => Ok(LinkAction::Up),
        "set" => {
            if req.set.is_empty() {
                return Err("`set` needs at least one KEY=VALUE".into());
            }
            if req.set.len() > MAX_SET_WORDS || req.set.iter().any(|w| w.len() > MAX_WORD) {
                return Err(format!(
                    "at most {MAX_SET_WORDS} settings of at most {MAX_WORD} bytes each"
                ));
            }
            crate::topology::changes::parse_changes(&req.set)
                .map(LinkAction::set)
                .map_err(|e| e.to_string())
        }
        other => Err(format!("unknown action `{other}` (down, up or set)")),
    }
}

/// True when the request comes from the page itself: no Origin (not a browser's
/// cross-site request), or an Origin whose host is the Host the request was sent to.
fn same_origin(headers: &HeaderMap) -> bool {
    let text = |h| {
        headers
            .get(h)
            .map(|v: &header::HeaderValue| v.to_str().unwrap_or("\0"))
    };
    origin_matches(text(header::ORIGIN), text(header::HOST))
}

/// [`same_origin`] on the header values (`None`: absent).
pub fn origin_matches(origin: Option<&str>, host: Option<&str>) -> bool {
    let Some(origin) = origin else {
        return true;
    };
    matches!((origin.strip_prefix("http://"), host), (Some(o), Some(h)) if o == h)
}

async fn link_action(
    State(app): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Json<LinkRequest>, axum::extract::rejection::JsonRejection>,
) -> Response {
    if !same_origin(&headers) {
        return error(StatusCode::FORBIDDEN, "cross-origin request refused".into());
    }
    let Json(req) = match body {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.body_text()),
    };
    let Some(l) = id.parse::<usize>().ok().and_then(|i| app.plan.links.get(i)) else {
        return error(StatusCode::NOT_FOUND, "no such link".into());
    };
    let action = match link_action_of(&req) {
        Ok(a) => a,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let req = Request::Link {
        a: crate::lab::links::label(&app.plan, l.a),
        b: crate::lab::links::label(&app.plan, l.b),
        action,
    };
    let dir = app.run_dir.clone();
    let r = tokio::task::spawn_blocking(move || control::call(&dir, &req, Duration::from_secs(30)))
        .await;
    app.wake.notify_one();
    match r {
        Ok(Ok(control::Response::Link { status })) => Json(*status).into_response(),
        Ok(Ok(control::Response::Error { message })) => error(StatusCode::CONFLICT, message),
        Ok(Ok(other)) => error(StatusCode::BAD_GATEWAY, format!("{other:?}")),
        Ok(Err(e)) => error(
            StatusCode::BAD_GATEWAY,
            format!("the supervisor does not answer: {e}"),
        ),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}
