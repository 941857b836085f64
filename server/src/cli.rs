//! The command line: `fila` (serve) and the admin commands, which work on the database
//! directly. Venues created while the server runs appear at once; queues and counters added
//! to a venue the server already has loaded appear after a restart.

use crate::clock::now_ms;
use crate::config::Config;
use crate::secrets::{check_password_strength, hash_password, random_password};
use crate::store::Role;
use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "fila",
    version,
    about = "Fila: realtime queues for bars, restaurants, clinics and shops"
)]
pub struct Cli {
    #[command(flatten)]
    pub config: Config,
    #[command(subcommand)]
    pub command: Option<Cmd>,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Run the server (the default).
    Serve,
    /// Manage venues.
    #[command(subcommand)]
    Venue(VenueCmd),
    /// Manage queues.
    #[command(subcommand)]
    Queue(QueueCmd),
    /// Manage counters and tables.
    #[command(subcommand)]
    Counter(CounterCmd),
    /// Manage staff accounts.
    #[command(subcommand)]
    User(UserCmd),
}

#[derive(Subcommand, Debug)]
pub enum VenueCmd {
    /// Create a venue: `fila venue create joes-bar "Joe's Bar" --time-zone Europe/Lisbon`.
    Create {
        slug: String,
        name: String,
        /// IANA time zone for open hours and the day numbers restart on (default UTC).
        #[arg(long)]
        time_zone: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum QueueCmd {
    /// Create a queue: `fila queue create joes-bar bar "Bar" --prefix A`.
    Create {
        venue: String,
        slug: String,
        name: String,
        /// Ticket number prefix, 1-3 capital letters.
        #[arg(long)]
        prefix: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum CounterCmd {
    /// Create a counter or table: `fila counter create joes-bar "Table 4"`.
    Create { venue: String, name: String },
}

#[derive(Subcommand, Debug)]
pub enum UserCmd {
    /// Create a staff account with a role at a venue (password generated unless given).
    Create {
        email: String,
        #[arg(long)]
        venue: String,
        /// owner, manager or staff.
        #[arg(long, default_value = "staff")]
        role: String,
        #[arg(long, env = "FILA_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
    /// Invite someone by e-mail: prints a single-use link (valid 72 hours) where they set
    /// their own password. Set FILA_PUBLIC_URL so the link has the right address.
    Invite {
        email: String,
        #[arg(long)]
        venue: String,
        /// owner, manager or staff.
        #[arg(long, default_value = "staff")]
        role: String,
    },
    /// Set a new password (generated unless given); ends the account's sessions.
    ResetPassword {
        email: String,
        #[arg(long, env = "FILA_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
}

/// Lower-case letters, digits and dashes, 1-40 characters: safe in URLs and QR codes.
pub fn check_slug(slug: &str) -> anyhow::Result<()> {
    let ok = !slug.is_empty()
        && slug.len() <= 40
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-');
    if !ok {
        bail!("{slug:?} is not a valid slug: use 1-40 lower-case letters, digits and dashes");
    }
    Ok(())
}

/// 1-3 capital letters, like A or VIP.
pub fn check_prefix(prefix: &str) -> anyhow::Result<()> {
    if prefix.is_empty() || prefix.len() > 3 || !prefix.bytes().all(|b| b.is_ascii_uppercase()) {
        bail!("the prefix must be 1-3 capital letters, like A or VIP");
    }
    Ok(())
}

pub fn check_name(name: &str) -> anyhow::Result<()> {
    if name.trim().is_empty() || name.chars().count() > 80 {
        bail!("names must have 1-80 characters");
    }
    Ok(())
}

fn password_or_generated(given: Option<String>) -> anyhow::Result<(String, bool)> {
    match given {
        Some(p) => {
            check_password_strength(&p).map_err(anyhow::Error::msg)?;
            Ok((p, false))
        }
        None => Ok((random_password(), true)),
    }
}

/// Run an admin command; returns the lines to print.
pub async fn run_admin(config: &Config, cmd: Cmd) -> anyhow::Result<Vec<String>> {
    let store = config.open_store().await?;
    let out = match cmd {
        Cmd::Serve => unreachable!("handled by main"),
        Cmd::Venue(VenueCmd::Create {
            slug,
            name,
            time_zone,
        }) => {
            check_slug(&slug)?;
            check_name(&name)?;
            let zone =
                crate::venues::time_zone::resolve(time_zone.as_deref().unwrap_or(""), now_ms())
                    .map_err(|e| anyhow::anyhow!(e))?;
            let id = store.create_venue(&slug, name.trim(), now_ms()).await?;
            store.set_time_zone(id, &zone.0, zone.1).await?;
            let zone_name = if zone.0.is_empty() { "UTC" } else { &zone.0 };
            vec![
                format!("Created venue {slug:?} (time zone {zone_name})."),
                format!("Add queues with: fila queue create {slug} <queue-slug> <name> --prefix A"),
            ]
        }
        Cmd::Queue(QueueCmd::Create {
            venue,
            slug,
            name,
            prefix,
        }) => {
            check_slug(&slug)?;
            check_name(&name)?;
            check_prefix(&prefix)?;
            let venue_id = store.venue_id(&venue).await?;
            store
                .create_queue(venue_id, &slug, name.trim(), &prefix)
                .await?;
            vec![format!(
                "Created queue {slug:?} at {venue:?} (restart a running server to see it)."
            )]
        }
        Cmd::Counter(CounterCmd::Create { venue, name }) => {
            check_name(&name)?;
            let venue_id = store.venue_id(&venue).await?;
            store.create_counter(venue_id, name.trim()).await?;
            vec![format!(
                "Created counter {name:?} at {venue:?} (restart a running server to see it)."
            )]
        }
        Cmd::User(UserCmd::Create {
            email,
            venue,
            role,
            password,
        }) => {
            let email = crate::http::invites::check_email(&email).map_err(anyhow::Error::msg)?;
            let role = Role::parse(&role).context("the role must be owner, manager or staff")?;
            let venue_id = store.venue_id(&venue).await?;
            let (password, generated) = password_or_generated(password)?;
            let user = match store.user_by_email(&email).await? {
                Some(u) => u.id,
                None => {
                    store
                        .create_user(&email, &hash_password(&password)?, now_ms())
                        .await?
                }
            };
            store.set_role(venue_id, user, role).await?;
            let mut out = vec![format!("{email} is {} at {venue}.", role.as_str())];
            if generated {
                out.push(format!("Password (shown once): {password}"));
            }
            out
        }
        Cmd::User(UserCmd::Invite { email, venue, role }) => {
            let email = crate::http::invites::check_email(&email).map_err(anyhow::Error::msg)?;
            let role = Role::parse(&role).context("the role must be owner, manager or staff")?;
            let venue_id = store.venue_id(&venue).await?;
            let invite = crate::http::invites::create(
                &store,
                &config.public_url(),
                venue_id,
                &email,
                role,
                None,
            )
            .await?;
            vec![
                format!("Invite for {email} ({}) at {venue:?}:", role.as_str()),
                format!("  {}", invite.url),
                format!(
                    "It works once, within {} hours; only this printout has it.",
                    crate::http::invites::INVITE_HOURS
                ),
            ]
        }
        Cmd::User(UserCmd::ResetPassword { email, password }) => {
            let email = email.trim().to_lowercase();
            let user = store
                .user_by_email(&email)
                .await?
                .with_context(|| format!("no account {email:?}"))?;
            let (password, generated) = password_or_generated(password)?;
            store
                .set_password(user.id, &hash_password(&password)?)
                .await?;
            let mut out = vec![format!(
                "New password set for {email}; their sessions have ended."
            )];
            if generated {
                out.push(format!("Password (shown once): {password}"));
            }
            out
        }
    };
    store.close().await;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::check_slug;

    #[test]
    fn slugs_are_url_safe() {
        assert!(check_slug("joes-bar-2").is_ok());
        assert!(check_slug("Joes").is_err());
        assert!(check_slug("").is_err());
        assert!(check_slug("-x").is_err());
        assert!(check_slug("a b").is_err());
    }
}
