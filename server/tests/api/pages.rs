//! The pages and the browser files they link: which wasm each page gets, the data rendered
//! into the first HTML, and how `/pkg` is cached.

use crate::helpers::*;
use std::path::Path;

/// A built site as `scripts/build.sh` leaves it: hashed names listed in `pkg/assets.txt`, each
/// file also precompressed. Returns the three names.
fn write_site(root: &str) -> (String, String, String) {
    let pkg = Path::new(root).join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    let (app, phone, css) = (
        "fila.0123456789abcdef".to_string(),
        "fila-phone.fedcba9876543210".to_string(),
        "fila.00112233aabbccdd.css".to_string(),
    );
    std::fs::write(
        pkg.join("assets.txt"),
        format!("app={app}\nphone={phone}\ncss={css}\n"),
    )
    .unwrap();
    for file in [
        format!("{app}.js"),
        format!("{app}_bg.wasm"),
        format!("{phone}.js"),
        format!("{phone}_bg.wasm"),
        css.clone(),
    ] {
        std::fs::write(pkg.join(&file), format!("contents of {file}")).unwrap();
        std::fs::write(pkg.join(format!("{file}.br")), format!("brotli of {file}")).unwrap();
        std::fs::write(pkg.join(format!("{file}.gz")), format!("gzip of {file}")).unwrap();
    }
    (app, phone, css)
}

#[tokio::test]
async fn phone_pages_load_the_phone_bundle_and_the_rest_the_whole_app() {
    let app = spawn_app_with(|c| {
        write_site(&c.site_root);
    })
    .await;
    let (whole, phone, css) = (
        "fila.0123456789abcdef",
        "fila-phone.fedcba9876543210",
        "fila.00112233aabbccdd.css",
    );
    let t = app.join("bar", "Ana", 2).await;
    let ticket_page = format!("/t/{}", t.token.unwrap());
    for (path, bundle, other) in [
        ("/v/demo", phone, whole),
        (ticket_page.as_str(), phone, whole),
        ("/v/demo?queue=bar", phone, whole),
        ("/", whole, phone),
        ("/staff", whole, phone),
        ("/staff/demo", whole, phone),
        ("/display/demo", whole, phone),
        ("/no/such/page", whole, phone),
    ] {
        let resp = app.get(path).await;
        // A ticket's page holds a customer's name: no shared cache may keep a page.
        assert_eq!(
            resp.headers()["cache-control"],
            "private, no-cache",
            "{path}"
        );
        let html = resp.text().await.unwrap();
        assert!(
            html.contains(&format!("/pkg/{bundle}.js")),
            "{path} links {bundle}.js: {html}"
        );
        assert!(
            html.contains(&format!("/pkg/{bundle}_bg.wasm")),
            "{path} preloads its wasm"
        );
        assert!(!html.contains(other), "{path} does not link {other}");
        assert!(
            html.contains(&format!("href=\"/pkg/{css}\"")),
            "{path} links the hashed stylesheet"
        );
    }
}

#[tokio::test]
async fn the_ticket_and_join_pages_come_with_their_data() {
    let app = spawn_app().await;
    app.join("bar", "First", 1).await;
    let t = app.join("bar", "Second", 2).await;
    let html = app
        .get(&format!("/t/{}", t.token.as_deref().unwrap()))
        .await
        .text()
        .await
        .unwrap();
    assert!(!html.contains("Loading…"), "the ticket is rendered: {html}");
    assert!(html.contains(&t.number), "the number is in the first paint");
    assert!(
        html.contains("You are number 2 in line"),
        "and the position: {html}"
    );
    assert!(html.contains("Cancel my ticket"));
    // Titles are worked out from the page's data when the server builds it (`page_title`);
    // one ahead is "almost up" (`app::alerts`), in the title and in a banner.
    assert!(
        html.contains(&format!("<title>Almost up · {} · Fila</title>", t.number)),
        "the ticket's title: {html}"
    );
    assert!(
        html.contains("almost up — please come back and stay close"),
        "{html}"
    );

    let html = app.get("/v/demo").await.text().await.unwrap();
    assert!(
        html.contains("<title>Join · Demo Bar &amp; Grill · Fila</title>"),
        "the join page's title: {html}"
    );
    assert!(
        !html.contains("Loading…"),
        "the queues are rendered: {html}"
    );
    assert!(
        html.contains("Demo Bar &amp; Grill"),
        "the venue's name: {html}"
    );
    assert!(
        html.contains("data-testid=\"join-queue-bar\""),
        "the queues to choose from"
    );
    // A title is text, whatever the venue is called.
    let resp = app
        .staff_post(
            "/api/v1/venues/demo/name",
            Some(&serde_json::json!({"name": "</title><script>x()</script>"})),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let html = app.get("/v/demo").await.text().await.unwrap();
    assert!(
        html.contains(
            "<title>Join · &lt;/title&gt;&lt;script&gt;x()&lt;/script&gt; · Fila</title>"
        ),
        "{html}"
    );
    assert!(!html.contains("<script>x()"), "{html}");

    // A finished ticket renders as finished.
    app.cancel(t.token.as_deref().unwrap()).await;
    let html = app
        .get(&format!("/t/{}", t.token.as_deref().unwrap()))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("This ticket is cancelled."), "{html}");
    assert!(!html.contains("Cancel my ticket"), "{html}");
    // An unknown venue or token renders the page's own loading state, not a server error.
    for path in ["/v/no-such-venue", "/t/no-such-token"] {
        let resp = app.get(path).await;
        assert_eq!(resp.status(), 200, "{path}");
        assert!(resp.text().await.unwrap().contains("Loading…"), "{path}");
    }
}

#[tokio::test]
async fn hashed_files_are_precompressed_and_cached_for_good() {
    let app = spawn_app_with(|c| {
        write_site(&c.site_root);
    })
    .await;
    let wasm = "/pkg/fila-phone.fedcba9876543210_bg.wasm";
    let resp = app
        .client
        .get(app.url(wasm))
        .header("accept-encoding", "br, gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-encoding"], "br");
    assert_eq!(
        resp.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    let modified = resp.headers()["last-modified"].clone();
    assert_eq!(
        resp.text().await.unwrap(),
        "brotli of fila-phone.fedcba9876543210_bg.wasm"
    );

    let resp = app
        .client
        .get(app.url(wasm))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-encoding"], "gzip");

    // Revalidation works (leptos_axum's file handler used to drop the header).
    let resp = app
        .client
        .get(app.url(wasm))
        .header("if-modified-since", modified)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 304);

    // A file that is not there is a 404 nobody keeps.
    let resp = app.get("/pkg/fila.ffffffffffffffff.js").await;
    assert_eq!(resp.status(), 404);
    assert!(resp.headers().get("cache-control").is_none());
}

#[tokio::test]
async fn without_a_build_list_the_fixed_names_are_linked_and_revalidated() {
    let app = spawn_app_with(|c| {
        let pkg = Path::new(&c.site_root).join("pkg");
        std::fs::create_dir_all(&pkg).unwrap();
        std::fs::write(pkg.join("fila.js"), "js").unwrap();
    })
    .await;
    let html = app.get("/t/some-token").await.text().await.unwrap();
    assert!(html.contains("/pkg/fila.js"), "{html}");
    assert!(html.contains("/pkg/fila_bg.wasm"), "{html}");
    assert!(html.contains("href=\"/pkg/fila.css\""), "{html}");
    let resp = app.get("/pkg/fila.js").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-cache");
}
