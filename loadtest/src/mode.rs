//! What the command line asks to run against: embedded mode, or distributed mode with a
//! MySQL/MariaDB server and a Redis (on this machine only) and 1..=6 instances.

use anyhow::{Context, bail};

/// Most instances in distributed mode: 6 is what 100,000 fan-out watchers need here, at
/// ~16,700 sockets an instance under the 20,000 open files a process may have (on 2 cores
/// more would only measure the scheduler).
pub(crate) const MAX_INSTANCES: usize = 6;

/// How to run Fila, from the command line.
#[derive(Clone, Debug)]
pub(crate) enum Mode {
    Embedded,
    Distributed {
        /// A MySQL/MariaDB server URL without a database, e.g. `mysql://root@127.0.0.1:3306`.
        mysql: String,
        redis: String,
        instances: usize,
    },
}

impl Mode {
    /// The mode the global options ask for, or a clear refusal.
    pub(crate) fn from_options(
        mysql: Option<String>,
        redis: Option<String>,
        instances: usize,
    ) -> anyhow::Result<Self> {
        if instances == 0 || instances > MAX_INSTANCES {
            bail!("--instances must be 1..={MAX_INSTANCES} (got {instances})");
        }
        match (mysql, redis) {
            (None, None) if instances > 1 => bail!(
                "--instances {instances} needs distributed mode: also give --mysql \
                 mysql://user@127.0.0.1:3306 and --redis redis://127.0.0.1:6379"
            ),
            (None, None) => Ok(Self::Embedded),
            (Some(_), None) => {
                bail!("--mysql needs --redis too (distributed mode uses both)")
            }
            (None, Some(_)) => {
                bail!("--redis needs --mysql too (distributed mode uses both)")
            }
            (Some(mysql), Some(redis)) => {
                let m = ServiceUrl::parse(&mysql, &["mysql", "mariadb"])?;
                if !m.path.is_empty() {
                    bail!(
                        "--mysql names a server, not a database (got {mysql:?}): each run \
                         creates and drops a database of its own; use e.g. \
                         mysql://root@127.0.0.1:3306"
                    );
                }
                let r = ServiceUrl::parse(&redis, &["redis"])?;
                if !(r.path.is_empty() || r.path.parse::<u32>().is_ok()) {
                    bail!("--redis path must be a database number (got {redis:?})");
                }
                Ok(Self::Distributed {
                    mysql,
                    redis,
                    instances,
                })
            }
        }
    }

    pub(crate) fn instances(&self) -> usize {
        match self {
            Self::Embedded => 1,
            Self::Distributed { instances, .. } => *instances,
        }
    }

    /// For the header line of a scenario.
    pub(crate) fn describe(&self) -> String {
        match self {
            Self::Embedded => "embedded mode (SQLite), one instance".to_owned(),
            Self::Distributed { instances, .. } => format!(
                "distributed mode (MariaDB/MySQL + Redis), {}",
                instances_text(*instances)
            ),
        }
    }

    /// The table row name: `fila (embedded…)` or `fila (distributed, N instances…)`.
    pub(crate) fn row(&self, suffix: &str) -> String {
        let suffix = if suffix.is_empty() {
            String::new()
        } else {
            format!(", {suffix}")
        };
        match self {
            Self::Embedded => format!("fila (embedded{suffix})"),
            Self::Distributed { instances, .. } => {
                format!("fila (distributed, {}{suffix})", instances_text(*instances))
            }
        }
    }
}

fn instances_text(n: usize) -> String {
    if n == 1 {
        "1 instance".to_owned()
    } else {
        format!("{n} instances")
    }
}

/// `scheme://[user[:password]@]host[:port][/path][?query]`, with a loopback host: this tool
/// only ever sends traffic to this machine.
pub(crate) struct ServiceUrl {
    pub(crate) userinfo: Option<String>,
    pub(crate) host: String,
    pub(crate) port: Option<u16>,
    /// Without the leading `/`.
    pub(crate) path: String,
}

impl ServiceUrl {
    pub(crate) fn parse(url: &str, schemes: &[&str]) -> anyhow::Result<Self> {
        let (scheme, rest) = url
            .split_once("://")
            .with_context(|| format!("{url:?} is not a URL (scheme://host:port)"))?;
        if !schemes.contains(&scheme) {
            bail!("{url:?} must start with {}://", schemes.join(":// or "));
        }
        let rest = rest.split_once('?').map_or(rest, |(r, _)| r);
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u.to_owned()), h),
            None => (None, authority),
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, after) = v6
                .split_once(']')
                .with_context(|| format!("bad host in {url:?}"))?;
            (h.to_owned(), after.strip_prefix(':'))
        } else {
            match hostport.split_once(':') {
                Some((h, p)) => (h.to_owned(), Some(p)),
                None => (hostport.to_owned(), None),
            }
        };
        let port = port
            .map(|p| p.parse::<u16>())
            .transpose()
            .with_context(|| format!("bad port in {url:?}"))?;
        let loopback = host == "localhost"
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        if !loopback {
            bail!("{url:?}: fila-load only talks to this machine (127.0.0.1 or localhost)");
        }
        Ok(Self {
            userinfo,
            host,
            port,
            path: path.trim_end_matches('/').to_owned(),
        })
    }
}
