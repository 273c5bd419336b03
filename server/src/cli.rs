//! The command line: `serve` (the default), migrations, projects, keys and users.

use crate::config::{Cli, Command, KeyCommand, LogFormat, ProjectCommand, Settings, UserCommand};
use crate::{admin, open_store, run_server};
use clap::Parser;
use tracing_subscriber::EnvFilter;

fn init_logging(settings: &Settings) {
    let filter = EnvFilter::try_new(&settings.log).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match settings.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Pretty => builder.init(),
    }
}

/// The `northstar-server` command: parses the command line (and the environment), then serves
/// or runs the admin command. The binary is this one call; the end-to-end tests' copy of the
/// binary (`tests/`) is too.
#[tokio::main]
pub async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logging(&cli.settings);
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = cli.settings;
    let mut out = std::io::stdout().lock();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            drop(out);
            run_server(&settings).await
        }
        Command::Migrate => {
            open_store(&settings).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::RebuildFigures => {
            use northstar_store::Store;
            open_store(&settings).await?.rebuild_figures().await?;
            println!("figures rebuilt");
            Ok(())
        }
        Command::Project(ProjectCommand::Create { name }) => {
            admin::create_project(&open_store(&settings).await?, &name, &mut out).await
        }
        Command::Project(ProjectCommand::List) => admin::list_projects(&open_store(&settings).await?, &mut out).await,
        Command::Key(KeyCommand::Rotate { project }) => {
            admin::rotate_key(&open_store(&settings).await?, project, &mut out).await
        }
        Command::Key(KeyCommand::Revoke { project, key: None }) => {
            admin::revoke_key(&open_store(&settings).await?, project, &mut out).await
        }
        Command::Key(KeyCommand::Revoke { project, key: Some(key) }) => {
            admin::revoke_named_key(&open_store(&settings).await?, project, key, &mut out).await
        }
        Command::Key(KeyCommand::Create { project, name, scope }) => {
            admin::create_key(&open_store(&settings).await?, project, &name, &scope, &mut out).await
        }
        Command::Key(KeyCommand::List { project }) => {
            admin::list_keys(&open_store(&settings).await?, project, &mut out).await
        }
        Command::User(UserCommand::Create { email, password, admin }) => {
            admin::create_user(&open_store(&settings).await?, &email, &password, admin, &mut out).await
        }
        Command::User(UserCommand::Password { email, password }) => {
            admin::set_password(&open_store(&settings).await?, &email, &password, &mut out).await
        }
        Command::User(UserCommand::Disable { email }) => {
            admin::set_disabled(&open_store(&settings).await?, &email, true, &mut out).await
        }
        Command::User(UserCommand::Enable { email }) => {
            admin::set_disabled(&open_store(&settings).await?, &email, false, &mut out).await
        }
        Command::User(UserCommand::Add { email, project, role }) => {
            admin::add_member(&open_store(&settings).await?, &email, project, &role, &mut out).await
        }
        Command::Healthcheck => crate::ops::healthcheck(settings.bind),
    }
}
