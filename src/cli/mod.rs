//! The `herald` command: argument parsing (clap derive; doc comments are
//! the help text) and the subcommands. `serve` runs the server; the others
//! go through the control socket when a server runs, or open the database
//! themselves when none does.

mod admin;
mod doctor;
mod serve;

use crate::config::{Config, Overrides};
use crate::control::{self, Reply, Request};
use crate::store::Store;
use clap::{Parser, Subcommand};
use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// Herald: a CalDAV calendar server that handles invitations.
#[derive(Parser, Debug)]
#[command(name = "herald", version)]
pub struct Cli {
    /// Configuration file (TOML); every key has a default.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Data directory (overrides server.data_dir).
    #[arg(long, global = true, env = "HERALD_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the CalDAV server.
    Serve {
        /// Address and port to listen on (overrides server.listen).
        #[arg(long, env = "HERALD_LISTEN", value_name = "ADDR:PORT")]
        listen: Option<String>,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Import an .ics file into a calendar, one resource per UID.
    Import {
        #[arg(long)]
        user: String,
        #[arg(long)]
        calendar: String,
        file: PathBuf,
    },
    /// Process one email (iMIP reply or invitation) from standard input, for
    /// an MTA pipe; exits 0 when processed or ignored, 65 for a broken
    /// message, 75 to have the MTA try again.
    Ingest {
        /// Envelope recipient(s), e.g. Postfix's ${recipient}.
        #[arg(long)]
        recipient: Vec<String>,
    },
    /// Check the configuration, the mail relay, reply trust and the queue.
    Doctor,
    /// See and manage the queue of outgoing iTIP messages.
    Outbox {
        #[command(subcommand)]
        command: OutboxCommand,
    },
    /// Organizer principals: applications that invite people through the API.
    Organizer {
        #[command(subcommand)]
        command: admin::OrganizerCommand,
    },
    /// API bearer tokens.
    Token {
        #[command(subcommand)]
        command: admin::TokenCommand,
    },
    /// Secret read-only calendar subscription URLs.
    Feed {
        #[command(subcommand)]
        command: admin::FeedCommand,
    },
    /// Move the clock of a server started with HERALD_TEST_CLOCK=1 (tests).
    TestClock {
        #[command(subcommand)]
        command: TestClockCommand,
    },
    /// Write a calendar to standard output as one VCALENDAR.
    Export {
        #[arg(long)]
        user: String,
        #[arg(long)]
        calendar: String,
    },
}

#[derive(Subcommand, Debug)]
enum TestClockCommand {
    /// Move time forward by an ISO 8601 duration (`PT10M`, `P3D`): timers
    /// that become due run at once.
    Advance { duration: String },
}

#[derive(Subcommand, Debug)]
enum OutboxCommand {
    /// List queued, sent and failed messages.
    List,
    /// Queue a failed message again (all failed ones without an id).
    Retry { id: Option<u64> },
    /// Remove sent and failed messages.
    Purge,
}

#[derive(Subcommand, Debug)]
enum UserCommand {
    /// Create a user with a default calendar.
    Add {
        name: String,
        /// Email address (calendar user address); repeat for aliases.
        #[arg(long, required = true)]
        email: Vec<String>,
        /// Read the password from standard input instead of generating one.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users and their addresses.
    List,
    /// Change a user's password (read from standard input).
    Passwd { name: String },
    /// Delete a user and all their data.
    Delete { name: String },
}

/// sysexits(3) codes `herald ingest` uses beside 0.
const EX_DATAERR: u8 = 65;
const EX_TEMPFAIL: u8 = 75;

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("herald: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Command::Ingest { recipient } = &cli.command {
        let code = runtime.block_on(ingest(&cli, recipient));
        return ExitCode::from(code);
    }
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("herald: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    let listen = match &cli.command {
        Command::Serve { listen } => listen.clone(),
        _ => None,
    };
    let overrides = Overrides {
        listen,
        data_dir: cli.data_dir.clone(),
    };
    let config = Config::resolve(cli.config.as_deref(), &overrides)?;
    match cli.command {
        Command::Serve { .. } => serve::serve(config).await,
        Command::User { command } => user(&config, command).await,
        Command::Import {
            user,
            calendar,
            file,
        } => import(&config, user, calendar, file).await,
        Command::Ingest { .. } => Ok(()),
        Command::Doctor => doctor::doctor(&config).await,
        Command::Outbox { command } => {
            let req = match command {
                OutboxCommand::List => Request::OutboxList,
                OutboxCommand::Retry { id } => Request::OutboxRetry { id },
                OutboxCommand::Purge => Request::OutboxPurge,
            };
            print!("{}", request(&config, req).await?);
            Ok(())
        }
        Command::Organizer { command } => {
            print!("{}", admin::organizer(&config, command).await?);
            Ok(())
        }
        Command::Token { command } => {
            print!("{}", admin::token(&config, command).await?);
            Ok(())
        }
        Command::Feed { command } => {
            print!("{}", admin::feed(&config, command).await?);
            Ok(())
        }
        Command::TestClock {
            command: TestClockCommand::Advance { duration },
        } => {
            let seconds = crate::clock::parse_duration(&duration)
                .ok_or_else(|| format!("'{duration}' is not a positive ISO 8601 duration"))?;
            let dir = &config.server.data_dir;
            let reply = control::send(dir, &Request::ClockAdvance { seconds })
                .await
                .ok_or("no herald serve is running on this data directory")??;
            match reply {
                Reply::Ok(s) => {
                    println!("{s}");
                    Ok(())
                }
                Reply::Err(e) => Err(e),
            }
        }
        Command::Export { user, calendar } => {
            let out = request(&config, Request::Export { user, calendar }).await?;
            std::io::stdout()
                .write_all(out.as_bytes())
                .map_err(|e| e.to_string())
        }
    }
}

/// Run a control request on the running server, or locally when none runs.
async fn request(config: &Config, req: Request) -> Result<String, String> {
    let dir = &config.server.data_dir;
    let reply = match control::send(dir, &req).await {
        Some(r) => r?,
        None => {
            let store = Store::open(dir).map_err(|e| e.to_string())?;
            store.set_limits(&config.limits);
            let reply = control::execute(&store, &config.imip, req).await;
            // Close (join the writer) so a next command can open it at once.
            store.close();
            reply
        }
    };
    match reply {
        Reply::Ok(s) => Ok(s),
        Reply::Err(e) => Err(e),
    }
}

fn read_password(prompt: &str) -> Result<String, String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("{prompt}");
        let _ = std::io::stderr().flush();
    }
    let mut s = String::new();
    if stdin.is_terminal() {
        stdin.read_line(&mut s).map_err(|e| e.to_string())?;
    } else {
        stdin
            .lock()
            .read_to_string(&mut s)
            .map_err(|e| e.to_string())?;
    }
    let pw = s.lines().next().unwrap_or("").to_string();
    if pw.is_empty() {
        return Err("empty password".into());
    }
    Ok(pw)
}

async fn user(config: &Config, command: UserCommand) -> Result<(), String> {
    let out = match command {
        UserCommand::Add {
            name,
            email,
            password_stdin,
        } => {
            let (password, generated) = if password_stdin {
                (read_password("password: ")?, false)
            } else {
                (crate::auth::generate_password(), true)
            };
            let password_hash = crate::auth::hash_password(&password)?;
            let msg = request(
                config,
                Request::UserAdd {
                    name,
                    emails: email,
                    password_hash,
                },
            )
            .await?;
            if generated {
                format!("{msg}\npassword: {password}\n")
            } else {
                format!("{msg}\n")
            }
        }
        UserCommand::List => request(config, Request::UserList).await?,
        UserCommand::Passwd { name } => {
            let password = read_password("new password: ")?;
            let password_hash = crate::auth::hash_password(&password)?;
            format!(
                "{}\n",
                request(
                    config,
                    Request::UserPasswd {
                        name,
                        password_hash
                    }
                )
                .await?
            )
        }
        UserCommand::Delete { name } => {
            format!("{}\n", request(config, Request::UserDelete { name }).await?)
        }
    };
    print!("{out}");
    Ok(())
}

/// Objects sent per control request during an import.
const IMPORT_BATCH: usize = 500;

async fn import(
    config: &Config,
    user: String,
    calendar: String,
    file: PathBuf,
) -> Result<(), String> {
    let text = std::fs::read_to_string(&file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let objects =
        crate::ical::split_by_uid(&text).map_err(|e| format!("{}: {e}", file.display()))?;
    let bar = indicatif::ProgressBar::new(objects.len() as u64);
    if objects.len() < 200 || !std::io::stderr().is_terminal() {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let mut written = 0usize;
    let mut notes = Vec::new();
    let texts: Vec<String> = objects.into_iter().map(|(_, t)| t).collect();
    for chunk in texts.chunks(IMPORT_BATCH) {
        let reply = request(
            config,
            Request::Import {
                user: user.clone(),
                calendar: calendar.clone(),
                objects: chunk.to_vec(),
            },
        )
        .await?;
        let mut lines = reply.lines();
        written += lines
            .next()
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(0);
        notes.extend(lines.map(str::to_string));
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    for n in &notes {
        eprintln!("{n}");
    }
    println!("imported {written} objects into {user}/{calendar}");
    Ok(())
}

/// `herald ingest`: one message from standard input; the exit code tells
/// the MTA what to do (sysexits).
async fn ingest(cli: &Cli, recipients: &[String]) -> u8 {
    let overrides = Overrides {
        listen: None,
        data_dir: cli.data_dir.clone(),
    };
    let mut config = match Config::resolve(cli.config.as_deref(), &overrides) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("herald: {e}");
            return EX_TEMPFAIL;
        }
    };
    // Used when no server runs and this process applies the message itself.
    let dir = config.server.data_dir.clone();
    if let Err(e) = config.imip.load_token_key(&dir) {
        eprintln!("herald: {e}");
        return EX_TEMPFAIL;
    }
    let limit = config.imip.max_message_bytes as u64;
    let mut raw = Vec::new();
    if let Err(e) = std::io::stdin()
        .lock()
        .take(limit + 1)
        .read_to_end(&mut raw)
    {
        eprintln!("herald: cannot read the message: {e}");
        return EX_TEMPFAIL;
    }
    if raw.len() as u64 > limit {
        eprintln!("herald: message larger than {limit} bytes");
        return EX_DATAERR;
    }
    let req = Request::Ingest {
        message: control::encode_message(&raw),
        recipients: recipients.to_vec(),
    };
    match request(&config, req).await {
        Ok(reply) => {
            let (code, text) = reply.split_once('\t').unwrap_or(("75", reply.as_str()));
            eprintln!("herald: {text}");
            code.parse().unwrap_or(EX_TEMPFAIL)
        }
        Err(e) => {
            eprintln!("herald: {e}");
            EX_TEMPFAIL
        }
    }
}
