//! The built browser files under `/pkg`: served precompressed (brotli or gzip, as the browser
//! takes them), with working revalidation, and cached for good when their names are content
//! hashes (`pkg/assets.txt`, written by `scripts/build.sh`).

use axum::Router;
use axum::http::{HeaderValue, Response, StatusCode, header};
use std::path::Path;
use tower_http::services::ServeDir;
use tower_http::services::fs::ServeFileSystemResponseBody;
use tower_http::set_header::SetResponseHeader;

/// A year: what "forever" means to caches (RFC 9111 suggests no more).
const FOREVER: &str = "public, max-age=31536000, immutable";
/// Fixed names (a `cargo leptos watch` build): keep, but ask each time whether it changed.
const REVALIDATE: &str = "no-cache";

/// The names the pages link, from `<site_root>/pkg/assets.txt`; cargo-leptos' fixed names
/// when there is none. A list that is there but unreadable stops the server: it would serve
/// pages whose scripts do not exist.
pub fn load(site_root: &str) -> anyhow::Result<app::Assets> {
    let path = Path::new(site_root).join("pkg").join("assets.txt");
    match std::fs::read_to_string(&path) {
        Ok(text) => app::Assets::parse(&text)
            .map_err(|e| anyhow::anyhow!("{}: {e}; rebuild with scripts/build.sh", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            tracing::info!(
                "no {}: linking the fixed file names (a cargo-leptos build)",
                path.display()
            );
            Ok(app::Assets::default())
        }
        Err(e) => Err(anyhow::anyhow!("cannot read {}: {e}", path.display())),
    }
}

/// `/pkg/*` from `<site_root>/pkg`.
pub fn routes<S: Clone + Send + Sync + 'static>(
    site_root: &str,
    assets: &app::Assets,
) -> Router<S> {
    let cache = HeaderValue::from_static(if assets.hashed { FOREVER } else { REVALIDATE });
    let files = ServeDir::new(Path::new(site_root).join("pkg"))
        .precompressed_br()
        .precompressed_gzip();
    // Only answers that are the file: a 404 must not be kept for a year.
    let files = SetResponseHeader::overriding(
        files,
        header::CACHE_CONTROL,
        move |res: &Response<ServeFileSystemResponseBody>| {
            (res.status().is_success() || res.status() == StatusCode::NOT_MODIFIED)
                .then(|| cache.clone())
        },
    );
    Router::new().nest_service("/pkg", files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_list_stops_the_server_and_a_missing_one_means_fixed_names() {
        let site = tempfile::tempdir().unwrap();
        let root = site.path().to_str().unwrap();
        assert_eq!(load(root).unwrap(), app::Assets::default());
        std::fs::create_dir_all(site.path().join("pkg")).unwrap();
        std::fs::write(site.path().join("pkg/assets.txt"), "app=fila.1\n").unwrap();
        let err = load(root).unwrap_err().to_string();
        assert!(
            err.contains("assets.txt") && err.contains("rebuild"),
            "{err}"
        );
    }
}
