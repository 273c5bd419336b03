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

    /// Ingest requests per second allowed per API key (bursts up to the same number); more get
    /// 429 with `Retry-After`. 0 turns the limit off.
    #[arg(long, env = "NORTHSTAR_RATE_LIMIT_PER_SECOND", default_value_t = 50, global = true)]
    pub rate_limit_per_second: u32,

    /// Longest an ingest request may take (reading the body and storing it); then 408.
    #[arg(long, env = "NORTHSTAR_REQUEST_TIMEOUT_SECS", default_value_t = 30, global = true)]
    pub request_timeout_secs: u64,

    /// How often the retention task deletes runs older than each project's retention.
    #[arg(long, env = "NORTHSTAR_RETENTION_INTERVAL_SECS", default_value_t = 3600, global = true)]
    pub retention_interval_secs: u64,
}

/// The smallest JWT secret accepted.
pub const MIN_JWT_SECRET: usize = 32;

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
        std::fs::create_dir_all(&self.data_dir)?;
        Ok(Database::SqliteFile(self.data_dir.join("northstar.db")))
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
    /// Revoke the project's API key; ingest with it gets 401 until the key is rotated.
    Revoke {
        /// Project id.
        #[arg(long)]
        project: Uuid,
    },
}
