//! The demo venue created on a first start, so a newcomer can click through at once.

use crate::clock::now_ms;
use crate::secrets::{hash_password, random_password};
use crate::store::{Role, Store};

pub const DEMO_SLUG: &str = "demo";
pub const DEMO_OWNER: &str = "owner@demo.fila";

/// Create the demo venue if the database has no venue at all. Returns the owner's password
/// when it was created now (it is shown once and never stored in clear).
pub async fn seed_if_empty(
    store: &Store,
    password: Option<&str>,
) -> anyhow::Result<Option<String>> {
    if !store.is_empty().await? {
        return Ok(None);
    }
    let now = now_ms();
    let venue = match store.create_venue(DEMO_SLUG, "Demo Bar & Grill", now).await {
        Ok(v) => v,
        // Several instances started at once on an empty MySQL: another one is seeding.
        Err(_) if !store.is_empty().await? => {
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    for (slug, name, prefix) in [
        ("bar", "Bar", "A"),
        ("tables-small", "Tables 1-2", "B"),
        ("tables-large", "Tables 3+", "C"),
    ] {
        store.create_queue(venue, slug, name, prefix).await?;
    }
    for name in ["Bar 1", "Bar 2", "Table 4", "Table 7"] {
        store.create_counter(venue, name).await?;
    }
    let password = password.map_or_else(random_password, str::to_owned);
    let user = store
        .create_user(DEMO_OWNER, &hash_password(&password)?, now)
        .await?;
    store.set_role(venue, user, Role::Owner).await?;
    Ok(Some(password))
}
