//! The API's own description, health checks, and the QR code.

use crate::helpers::*;
use serde_json::Value;

#[tokio::test]
async fn the_openapi_document_describes_the_join_and_call_routes() {
    let app = spawn_app().await;
    let resp = app.get("/api/v1/openapi.json").await;
    assert_eq!(resp.status(), 200);
    let ct = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with("application/json"), "{ct}");
    let doc: Value = resp.json().await.expect("valid JSON");
    let version = doc["openapi"].as_str().expect("an openapi version");
    assert!(version.starts_with('3'), "{version}");
    let paths = doc["paths"].as_object().expect("paths");
    for p in [
        "/api/v1/venues/{venue}/queues/{queue}/tickets",
        "/api/v1/venues/{venue}/queues/{queue}/call-next",
        "/api/v1/tickets/{token}",
        "/api/v1/auth/login",
    ] {
        assert!(
            paths.contains_key(p),
            "missing {p}; have {:?}",
            paths.keys().collect::<Vec<_>>()
        );
    }
    assert!(paths["/api/v1/venues/{venue}/queues/{queue}/tickets"]["post"].is_object());
    assert!(paths["/api/v1/venues/{venue}/queues/{queue}/call-next"]["post"].is_object());
}

#[tokio::test]
async fn health_and_readiness_answer_200() {
    let app = spawn_app().await;
    let resp = app.get("/healthz").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "ok");
    let resp = app.get("/readyz").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "ready");
}

#[tokio::test]
async fn the_qr_code_is_an_svg() {
    let app = spawn_app().await;
    let resp = app.get("/api/v1/venues/demo/qr.svg").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "image/svg+xml");
    let body = resp.text().await.unwrap();
    assert!(
        body.starts_with("<?xml") || body.starts_with("<svg"),
        "{}",
        &body[..body.len().min(80)]
    );
    assert!(body.contains("</svg>"));
}

#[tokio::test]
async fn api_answers_are_not_cached_and_not_sniffed() {
    let app = spawn_app().await;
    let resp = app.get("/api/v1/venues/demo").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
    let info: Value = resp.json().await.unwrap();
    assert_eq!(info["name"], "Demo Bar & Grill");
    let prefixes: Vec<&str> = info["queues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["prefix"].as_str().unwrap())
        .collect();
    assert_eq!(prefixes, ["A", "B", "C"]);
}

#[tokio::test]
async fn pages_and_api_refuse_to_be_framed_and_skip_hsts_on_plain_http() {
    let app = spawn_app().await;
    for path in ["/api/v1/venues/demo", "/healthz"] {
        let resp = app.get(path).await;
        assert_eq!(
            resp.headers()["content-security-policy"],
            "frame-ancestors 'none'",
            "{path}"
        );
        assert_eq!(resp.headers()["x-frame-options"], "DENY", "{path}");
        assert!(
            resp.headers().get("strict-transport-security").is_none(),
            "{path}"
        );
    }
}

#[tokio::test]
async fn behind_https_responses_carry_hsts() {
    let app = spawn_app_with(|c| c.public_url = Some("https://fila.example".into())).await;
    let resp = app.get("/healthz").await;
    assert_eq!(
        resp.headers()["strict-transport-security"],
        "max-age=31536000"
    );
}

#[tokio::test]
async fn pages_only_run_scripts_from_us_or_with_this_responses_nonce() {
    let app = spawn_app().await;
    let mut nonces = Vec::new();
    for path in ["/v/demo", "/staff", "/display/demo"] {
        let resp = app.get(path).await;
        assert_eq!(resp.status(), 200, "{path}");
        let csp = resp.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        let html = resp.text().await.unwrap();
        let nonce = csp
            .split("'nonce-")
            .nth(1)
            .and_then(|r| r.split('\'').next())
            .unwrap_or_else(|| panic!("{path}: no nonce in {csp}"))
            .to_owned();
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(csp.contains("object-src 'none'"), "{csp}");
        let script_src = csp
            .split(';')
            .find(|d| d.trim().starts_with("script-src"))
            .expect("a script-src directive");
        assert!(!script_src.contains("unsafe-inline"), "{csp}");
        // Every inline script carries it; no script is left without.
        let scripts = html.matches("<script").count();
        assert!(scripts > 0, "{path} has the hydration loader");
        assert_eq!(
            html.matches(&format!("nonce=\"{nonce}\"")).count(),
            scripts,
            "{path}: every script has the nonce"
        );
        nonces.push(nonce);
    }
    nonces.sort();
    nonces.dedup();
    assert_eq!(nonces.len(), 3, "a new nonce per response");
}

#[tokio::test]
async fn metrics_count_the_writers_transactions_and_what_they_made_durable() {
    let app = spawn_app().await;
    let (commits, commands): (u64, u64) = (
        metric(&app, "fila_writer_commits_total").await,
        metric(&app, "fila_writer_commands_total").await,
    );
    let names: Vec<String> = (0..5).map(|i| format!("Guest {i}")).collect();
    let joins = names.iter().map(|name| app.try_join("bar", name, 2));
    for resp in futures_util::future::join_all(joins).await {
        assert_eq!(resp.status(), 201);
    }
    let token = app.join("bar", "Ana", 2).await.token.unwrap();
    assert_eq!(app.cancel(&token).await.status(), 200);
    // The engine refuses a second cancel: nothing to make durable, nothing counted.
    assert_eq!(app.cancel(&token).await.status(), 409);
    let commits = metric::<u64>(&app, "fila_writer_commits_total").await - commits;
    let commands = metric::<u64>(&app, "fila_writer_commands_total").await - commands;
    assert_eq!(commands, 7);
    assert!((3..=7).contains(&commits), "{commits} transactions");
    // Every transaction's time is in the histogram; the +Inf bucket holds them all.
    let timed: u64 = metric(&app, "fila_writer_commit_seconds_count").await;
    assert_eq!(
        timed,
        metric::<u64>(&app, "fila_writer_commits_total").await
    );
    assert_eq!(
        metric::<u64>(&app, "fila_writer_commit_seconds_bucket{le=\"+Inf\"}").await,
        timed
    );
    let sum: f64 = metric(&app, "fila_writer_commit_seconds_sum").await;
    assert!(sum > 0.0, "commits take some time: {sum}");
}
