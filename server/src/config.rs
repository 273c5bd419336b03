//! Command line and environment. Every setting is a flag and an environment variable; the
//! README's configuration table is generated from the same names (`--help` prints them too).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use uuid::Uuid;

/// NorthStar: self-hostable tracing for AI agents.
///
/// With no command, `serve` runs.
#[derive(Debug, Parser)]
#[command(name = "northstar-server", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub settings: Settings,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Settings shared by every command.
#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// Address the HTTP server listens on.
    #[arg(long, env = "NORTHSTAR_BIND", default_value = "127.0.0.1:8080", global = true)]
    pub bind: SocketAddr,

    /// Directory of the embedded SQLite database (used when DATABASE_URL is not set).
    #[arg(long, env = "NORTHSTAR_DATA_DIR", default_value = "./northstar-data", global = true)]
    pub data_dir: PathBuf,

    /// `postgres://…` to use Postgres instead of the embedded SQLite database.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,

    /// The API key of the default project created on first start (instead of a random one).
    #[arg(long, env = "NORTHSTAR_BOOTSTRAP_API_KEY", global = true, hide_env_values = true)]
    pub bootstrap_api_key: Option<String>,

    /// The URL people reach this server at (`https://northstar.example.com`), used for the
    /// ingest URL the dashboard shows; by default it is taken from each request's `Host`.
    #[arg(long, env = "NORTHSTAR_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,

    /// Largest accepted ingest body in bytes, after gzip decoding; larger bodies get 413.
    #[arg(long, env = "NORTHSTAR_MAX_BODY_BYTES", default_value_t = 10 * 1024 * 1024, global = true)]
    pub max_body_bytes: usize,

    /// Most records (of all kinds together) one ingest request may carry; more get 413.
    #[arg(long, env = "NORTHSTAR_MAX_BATCH_RECORDS", default_value_t = northstar_wire::MAX_RECORDS, global = true)]
    pub max_batch_records: usize,

    /// Log filter (tracing-subscriber EnvFilter syntax), e.g. `info` or `northstar_server=debug`.
    #[arg(long, env = "NORTHSTAR_LOG", default_value = "info", global = true)]
    pub log: String,

    /// Log format.
    #[arg(long, env = "NORTHSTAR_LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty, global = true)]
    pub log_format: LogFormat,

    /// Email of the first dashboard user (a server admin), created on a start with no users.
    #[arg(long, env = "NORTHSTAR_ADMIN_EMAIL", global = true)]
    pub admin_email: Option<String>,

    /// That user's password. Without both, the first start creates `admin@localhost` with a
    /// random password and prints it once.
    #[arg(long, env = "NORTHSTAR_ADMIN_PASSWORD", global = true, hide_env_values = true)]
    pub admin_password: Option<String>,

    /// Signs dashboard login tokens (HS256), at least 32 bytes. Unset: a random secret per
    /// process (logins end when the server restarts).
    #[arg(long, env = "NORTHSTAR_JWT_SECRET", global = true, hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// How long a dashboard login lasts, in hours.
    #[arg(long, env = "NORTHSTAR_SESSION_HOURS", default_value_t = 12, global = true)]
    pub session_hours: u32,

    /// A fixed ceiling of ingest requests per second per API key (bursts up to the same
    /// number); more get 429 with `Retry-After`. 0 (the default): no ceiling, only the
    /// overload protection of `--ingest-concurrency`.
    #[arg(long, env = "NORTHSTAR_RATE_LIMIT_PER_SECOND", default_value_t = 0, global = true)]
    pub rate_limit_per_second: u32,

    /// Ingest requests stored at once. When all are busy, a key holding more than its fair
    /// share gets 429 (`Retry-After: 1`) and the others wait their turn.
    #[arg(long, env = "NORTHSTAR_INGEST_CONCURRENCY", default_value_t = crate::DEFAULT_INGEST_CONCURRENCY, global = true)]
    pub ingest_concurrency: usize,

    /// Longest an ingest request may take (reading the body and storing it); then 408.
    #[arg(long, env = "NORTHSTAR_REQUEST_TIMEOUT_SECS", default_value_t = 30, global = true)]
    pub request_timeout_secs: u64,

    /// Most connections open at once; further ones wait until one closes.
    #[arg(long, env = "NORTHSTAR_MAX_CONNECTIONS", default_value_t = 4096, global = true)]
    pub max_connections: usize,

    /// Longest wait for a request's headers, and so the longest a keep-alive connection may
    /// stay idle, in seconds.
    #[arg(long, env = "NORTHSTAR_HEADER_TIMEOUT_SECS", default_value_t = 30, global = true)]
    pub header_timeout_secs: u64,

    /// How often the retention task deletes runs older than each project's retention.
    #[arg(long, env = "NORTHSTAR_RETENTION_INTERVAL_SECS", default_value_t = 3600, global = true)]
    pub retention_interval_secs: u64,
}

/// The smallest JWT secret accepted.
pub const MIN_JWT_SECRET: usize = 32;
/// The shortest bootstrap API key accepted on a server reachable from other machines (a
/// minted key has 35 characters).
pub const MIN_EXPOSED_KEY: usize = 32;

/// Where the data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// `DATABASE_URL`.
    Url(String),
    /// The embedded SQLite file in the data directory (opened by path: any path works).
    SqliteFile(PathBuf),
}

impl Settings {
    /// The database to use: `DATABASE_URL`, or `northstar.db` in the data directory.
    ///
    /// # Errors
    ///
    /// When the data directory cannot be created.
    pub fn database(&self) -> std::io::Result<Database> {
        if let Some(url) = self.database_url.as_deref().filter(|u| !u.is_empty()) {
            return Ok(Database::Url(url.to_owned()));
        }
        if !self.data_dir.exists() {
            // The data directory is the owner's alone (the database file is created 0600 too).
            let mut dir = std::fs::DirBuilder::new();
            dir.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut dir, 0o700);
            dir.create(&self.data_dir)?;
        }
        Ok(Database::SqliteFile(self.data_dir.join("northstar.db")))
    }
}

impl Settings {
    /// Refuses a server listening beyond loopback with a secret still at an example value
    /// (anything containing `change-me` / `change_me`, as `.env.example` has them) or a short
    /// bootstrap key: those are published, so anyone could log in or send data.
    ///
    /// # Errors
    ///
    /// One line naming every setting to change.
    pub fn check_exposed_secrets(&self) -> anyhow::Result<()> {
        if self.bind.ip().is_loopback() {
            return Ok(());
        }
        let example = |v: &Option<String>| {
            v.as_deref().is_some_and(|v| {
                let v = v.to_ascii_lowercase();
                v.contains("change-me") || v.contains("change_me") || v.contains("changeme")
            })
        };
        let mut bad = Vec::new();
        for (name, value) in [
            ("NORTHSTAR_JWT_SECRET", &self.jwt_secret),
            ("NORTHSTAR_ADMIN_PASSWORD", &self.admin_password),
            ("NORTHSTAR_BOOTSTRAP_API_KEY", &self.bootstrap_api_key),
        ] {
            if example(value) {
                bad.push(format!("{name} (still the example value)"));
            }
        }
        if let Some(key) = self.bootstrap_api_key.as_deref().filter(|k| !k.is_empty())
            && key.chars().count() < MIN_EXPOSED_KEY
            && !example(&self.bootstrap_api_key)
        {
            bad.push(format!("NORTHSTAR_BOOTSTRAP_API_KEY (shorter than {MIN_EXPOSED_KEY} characters)"));
        }
        anyhow::ensure!(
            bad.is_empty(),
            "refusing to listen on {} with published secrets: set {} (or listen on 127.0.0.1 only)",
            self.bind,
            bad.join(", ")
        );
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default): migrate, create the default project on first start, serve.
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Recompute every run's and session's figures (cost, tokens, counts, status) from the
    /// stored spans and runs, and exit. Ingest keeps them current; this is for rows written
    /// around the server (imports, hand edits).
    RebuildFigures,
    /// Manage projects.
    #[command(subcommand)]
    Project(ProjectCommand),
    /// Manage a project's API key.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Manage dashboard users.
    #[command(subcommand)]
    User(UserCommand),
    /// Exit 0 when the server on `--bind`'s port answers `/readyz` (for container healthchecks).
    Healthcheck,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a dashboard user.
    Create {
        #[arg(long)]
        email: String,
        /// The password (or set NORTHSTAR_USER_PASSWORD, which keeps it out of the process list).
        #[arg(long, env = "NORTHSTAR_USER_PASSWORD", hide_env_values = true)]
        password: String,
        /// A server admin sees and manages every project.
        #[arg(long)]
        admin: bool,
    },
    /// Set a user's password; every login they have ends.
    Password {
        #[arg(long)]
        email: String,
        /// The new password (or set NORTHSTAR_USER_PASSWORD, which keeps it out of the process list).
        #[arg(long, env = "NORTHSTAR_USER_PASSWORD", hide_env_values = true)]
        password: String,
    },
    /// Disable a user: they cannot log in, and every login they have ends.
    Disable {
        #[arg(long)]
        email: String,
    },
    /// Let a disabled user log in again.
    Enable {
        #[arg(long)]
        email: String,
    },
    /// Give a user a role in a project.
    Add {
        #[arg(long)]
        email: String,
        #[arg(long)]
        project: Uuid,
        /// `member` (sees data, adds scores) or `admin` (also manages keys and retention).
        #[arg(long, default_value = "member")]
        role: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProjectCommand {
    /// Create a project and print its id and API key (shown once).
    Create {
        /// Project name.
        #[arg(long)]
        name: String,
    },
    /// List projects with the state of their key.
    List,
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Replace the project's API key and print the new one (shown once); the old key stops
    /// working at once.
    Rotate {
        /// Project id.
        #[arg(long)]
        project: Uuid,
    },
    /// Revoke the project's API key (ingest with it gets 401 until the key is rotated), or,
    /// with `--key`, one named key.
    Revoke {
        /// Project id.
        #[arg(long)]
        project: Uuid,
        /// A named key's id (from `key list`).
        #[arg(long)]
        key: Option<Uuid>,
    },
    /// Create a named key and print it (shown once): `ingest` sends traces, `read` reads
    /// through the public API (`/api/v1/`) and MCP (`/mcp`) and may add scores.
    Create {
        /// Project id.
        #[arg(long)]
        project: Uuid,
        /// What the key is for (a service, an environment).
        #[arg(long)]
        name: String,
        #[arg(long, value_parser = ["ingest", "read"])]
        scope: String,
    },
    /// List the project's keys: name, scope, created, last used (never the key).
    List {
        /// Project id.
        #[arg(long)]
        project: Uuid,
    },
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::Cli;

    fn settings(args: &[&str]) -> super::Settings {
        let mut all = vec!["northstar-server"];
        all.extend_from_slice(args);
        Cli::try_parse_from(all).expect("arguments").settings
    }

    #[test]
    fn published_secrets_are_refused_beyond_loopback_only() {
        let example = [
            "--jwt-secret",
            "change-me-to-a-long-random-secret-of-at-least-32-chars",
            "--admin-password",
            "change-me-admin-password",
            "--bootstrap-api-key",
            "ns_change_me_bootstrap_key",
        ];
        assert!(settings(&example).check_exposed_secrets().is_ok(), "127.0.0.1 by default");
        let mut exposed = vec!["--bind", "0.0.0.0:8080"];
        exposed.extend_from_slice(&example);
        let err = settings(&exposed).check_exposed_secrets().expect_err("refused").to_string();
        for name in ["NORTHSTAR_JWT_SECRET", "NORTHSTAR_ADMIN_PASSWORD", "NORTHSTAR_BOOTSTRAP_API_KEY"] {
            assert!(err.contains(name), "{err}");
        }
        assert!(!err.contains('\n'), "one line: {err}");

        let short = settings(&["--bind", "0.0.0.0:8080", "--bootstrap-api-key", "ns_short"]);
        assert!(short.check_exposed_secrets().expect_err("short key").to_string().contains("shorter than 32"));
        let good = settings(&[
            "--bind",
            "0.0.0.0:8080",
            "--jwt-secret",
            "Vf8mJ1q3yN0c7cQ5uXk2T9rB6wLhZpEaDsGtRoYi",
            "--bootstrap-api-key",
            "ns_Vf8mJ1q3yN0c7cQ5uXk2T9rB6wLhZpEa",
        ]);
        assert!(good.check_exposed_secrets().is_ok());
    }
}
