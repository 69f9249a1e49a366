//! `herald organizer`, `herald token` and `herald feed`: principals for
//! applications and their secrets. Tokens are made here, in the CLI
//! process; only their hashes go to the server, and each is printed once.

use super::request;
use crate::config::Config;
use crate::control::Request;
use clap::Subcommand;

use crate::api::FEED_TOKEN_PREFIX;

#[derive(Subcommand, Debug)]
pub enum OrganizerCommand {
    /// Create an organizer principal for an application (tokens, no
    /// password unless --password-stdin), with a default calendar.
    Add {
        name: String,
        /// Email address the invitations come from; repeat for aliases.
        #[arg(long, required = true)]
        email: Vec<String>,
        /// Display name (the ORGANIZER's CN).
        #[arg(long)]
        display_name: Option<String>,
        /// Also set a password (read from standard input) for CalDAV.
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Create an API token for a principal; the token is printed alone on
    /// the last line, once.
    Create {
        #[arg(long)]
        principal: String,
        #[arg(long)]
        label: Option<String>,
    },
    /// List tokens: id, principal, created, label.
    List,
    /// Revoke a token by its id.
    Revoke { id: String },
}

#[derive(Subcommand, Debug)]
pub enum FeedCommand {
    /// Create a secret read-only subscription URL for a calendar; the path
    /// (/feeds/TOKEN.ics) is printed alone on the last line, once.
    Create {
        #[arg(long)]
        user: String,
        #[arg(long)]
        calendar: String,
    },
    /// List feeds: id, user, calendar, created.
    List {
        #[arg(long)]
        user: Option<String>,
    },
    /// Revoke a feed by its id.
    Revoke { id: String },
}

pub async fn organizer(config: &Config, command: OrganizerCommand) -> Result<String, String> {
    match command {
        OrganizerCommand::Add {
            name,
            email,
            display_name,
            password_stdin,
        } => {
            let password_hash = if password_stdin {
                crate::auth::hash_password(&super::read_password("password: ")?)?
            } else {
                String::new()
            };
            let req = Request::OrganizerAdd {
                name,
                emails: email,
                display_name,
                password_hash,
            };
            Ok(format!("{}\n", request(config, req).await?))
        }
    }
}

pub async fn token(config: &Config, command: TokenCommand) -> Result<String, String> {
    match command {
        TokenCommand::Create { principal, label } => {
            let (token, hash) = crate::auth::new_secret(crate::api::TOKEN_PREFIX)?;
            let id = crate::auth::new_secret_id()?;
            let req = Request::TokenCreate {
                principal,
                label,
                id,
                hash,
            };
            let msg = request(config, req).await?;
            Ok(format!("{msg}\n{token}\n"))
        }
        TokenCommand::List => request(config, Request::TokenList).await,
        TokenCommand::Revoke { id } => Ok(format!(
            "{}\n",
            request(config, Request::TokenRevoke { id }).await?
        )),
    }
}

pub async fn feed(config: &Config, command: FeedCommand) -> Result<String, String> {
    match command {
        FeedCommand::Create { user, calendar } => {
            let (token, hash) = crate::auth::new_secret(FEED_TOKEN_PREFIX)?;
            let id = crate::auth::new_secret_id()?;
            let req = Request::FeedCreate {
                user,
                calendar,
                id,
                hash,
            };
            let msg = request(config, req).await?;
            let path = format!("{}{token}.ics", crate::api::FEED_PREFIX);
            let url = match &config.api.public_url {
                Some(base) => format!("{}{path}", base.trim_end_matches('/')),
                None => path,
            };
            Ok(format!("{msg}\n{url}\n"))
        }
        FeedCommand::List { user } => request(config, Request::FeedList { user }).await,
        FeedCommand::Revoke { id } => Ok(format!(
            "{}\n",
            request(config, Request::FeedRevoke { id }).await?
        )),
    }
}
