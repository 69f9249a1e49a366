//! Inbound iMIP (RFC 6047), the engine's operation for mail: one function
//! that every mail door (`herald ingest`, the LMTP listener) calls takes a
//! raw message, lets `imip::inbound` find the iTIP
//! part and judge the sender, and applies it: a REPLY updates the
//! attendee's PARTSTAT on the organizer's copy, a COUNTER is recorded for
//! the organizer, a REFRESH queues the current REQUEST again, and a
//! REQUEST/CANCEL/ADD from an organizer elsewhere reaches the local
//! recipient's schedule inbox (and calendar, if configured). Every message
//! is recorded once, with its effect, in one store transaction.

use crate::config::ImipConfig;
use crate::imip::inbound::{self, Inbound, SenderAuth, TrustPolicy, Verdict};
use crate::scheduling::{self, ItipMessage, Method};
use crate::store::{
    HistoryEntry, InboundApplied, InboundTransform, NewMessage, Store, StoreError, Transform,
    component_of, resource_name,
};

/// What became of a message; each mail door maps it (sysexits codes for
/// `herald ingest`, reply lines for LMTP).
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Applied to an event (or delivered to an inbox).
    Processed(String),
    /// Not for us (no iTIP part, unsupported method): logged, accepted.
    Ignored(String),
    /// Seen before: the first outcome.
    Duplicate(String),
    /// iTIP we refuse (untrusted sender, wrong attendee, stale...): recorded, accepted.
    Rejected(String),
    /// The message itself is broken (too large, malformed, bad calendar).
    DataError(String),
    /// Try again later (the database failed).
    TempFail(String),
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Processed(s) => write!(f, "processed: {s}"),
            Outcome::Ignored(s) => write!(f, "ignored: {s}"),
            Outcome::Duplicate(s) => write!(f, "already processed ({s})"),
            Outcome::Rejected(s) => write!(f, "rejected: {s}"),
            Outcome::DataError(s) => write!(f, "bad message: {s}"),
            Outcome::TempFail(s) => write!(f, "temporary failure: {s}"),
        }
    }
}

/// Text safe for a log line or an SMTP reply: printable ASCII, bounded.
pub fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .take(200)
        .collect()
}

fn policy(config: &ImipConfig) -> TrustPolicy {
    let tokens = config.reply_token_parts();
    TrustPolicy {
        from_only: config.sender_verification == "from-only",
        trusted_authserv_ids: config.trusted_authserv_ids.clone(),
        reply_token_local: tokens.as_ref().map(|(l, _)| l.clone()),
        reply_token_domain: tokens.map(|(_, d)| d),
    }
}

pub(super) fn temp(e: StoreError) -> Outcome {
    Outcome::TempFail(e.to_string())
}

/// The DTSTAMP value of the first component that has one.
fn dtstamp(ical: &str) -> Option<String> {
    ical.lines()
        .find_map(|l| l.trim_end().strip_prefix("DTSTAMP:"))
        .map(str::to_string)
}

/// Process one message. `recipients` are the envelope recipients (LMTP RCPT
/// TO), empty for `herald ingest`.
pub async fn apply_mail(
    store: &Store,
    config: &ImipConfig,
    raw: &[u8],
    recipients: &[String],
) -> Outcome {
    if raw.len() > config.max_message_bytes {
        return Outcome::DataError(format!(
            "message larger than {} bytes",
            config.max_message_bytes
        ));
    }
    let outcome = match inbound::analyze(raw, recipients, &policy(config)) {
        Verdict::Ignored(why) => Outcome::Ignored(format!("{why:?}")),
        Verdict::Refused(why) => Outcome::DataError(format!("{why:?}")),
        Verdict::Itip(msg) => match store.ingested(&msg.message_id) {
            Ok(Some(before)) => Outcome::Duplicate(before),
            Ok(None) => process(store, config, &msg, recipients).await,
            Err(e) => temp(e),
        },
    };
    match &outcome {
        Outcome::Processed(_) | Outcome::Duplicate(_) => {
            tracing::info!("ingest: {}", one_line(&outcome.to_string()))
        }
        Outcome::TempFail(_) => tracing::error!("ingest: {}", one_line(&outcome.to_string())),
        _ => tracing::warn!("ingest: {}", one_line(&outcome.to_string())),
    }
    outcome
}

/// Whether the From of `msg` may speak for `who` (an attendee or organizer address).
fn trusted(msg: &Inbound) -> Result<(), String> {
    match &msg.sender_auth {
        SenderAuth::Authenticated(_) | SenderAuth::FromOnly => Ok(()),
        // Checked against the event and attendee by the caller.
        SenderAuth::Token(_) => Ok(()),
        // Under "from-only" the analysis says FromOnly; Unverified then means
        // our own MTA recorded evidence of forgery (e.g. dmarc=fail).
        SenderAuth::Unverified(why) => Err(format!(
            "sender {} not authenticated ({why}); set imip.trusted_authserv_ids to your MTA's authserv-id",
            msg.from
        )),
    }
}

async fn process(
    store: &Store,
    config: &ImipConfig,
    msg: &Inbound,
    recipients: &[String],
) -> Outcome {
    match msg.method {
        Method::Reply | Method::Counter | Method::Refresh => {
            to_organizer(store, config, msg, recipients).await
        }
        Method::Request | Method::Cancel | Method::Add => {
            to_attendees(store, config, msg, recipients).await
        }
        other => {
            record(
                store,
                msg,
                Outcome::Ignored(format!("method {} not handled", other.as_str())),
            )
            .await
        }
    }
}

/// Record an outcome that changes no event.
async fn record(store: &Store, msg: &Inbound, outcome: Outcome) -> Outcome {
    match store
        .record_inbound(&msg.message_id, &outcome.to_string())
        .await
    {
        Ok(Some(before)) => Outcome::Duplicate(before),
        Ok(None) => outcome,
        Err(e) => temp(e),
    }
}

/// The local user who organizes `msg`'s event: its ORGANIZER, or (Outlook
/// omits it) one of the message's recipients.
fn organizer_user(
    store: &Store,
    msg: &Inbound,
    recipients: &[String],
) -> Result<Option<(String, String)>, StoreError> {
    let mut candidates: Vec<String> = scheduling::organizer_of(&msg.ical).into_iter().collect();
    candidates.extend(recipients.iter().map(|r| scheduling::normalize_address(r)));
    for addr in candidates {
        if let Some(user) = store.principal_by_address(&addr)? {
            return Ok(Some((user, addr)));
        }
    }
    // No ORGANIZER (Outlook) and no envelope recipient (a pipe without
    // --recipient): the user whose event with this UID they organize.
    for p in store.principals()? {
        let Some(calendar) = calendar_of(store, &p.name, &msg.uid)? else {
            continue;
        };
        let Some(name) = store.uid_in(&p.name, &calendar, &msg.uid)? else {
            continue;
        };
        let body = store
            .body(&p.name, &format!("{calendar}{name}"))?
            .unwrap_or_default();
        if let Some(org) = scheduling::organizer_of(&String::from_utf8_lossy(&body))
            && p.emails.contains(&org)
        {
            return Ok(Some((p.name, org)));
        }
    }
    Ok(None)
}

/// The calendar of `user` holding `uid`.
fn calendar_of(store: &Store, user: &str, uid: &str) -> Result<Option<String>, StoreError> {
    for (path, node) in store.children(user, "")? {
        if node.calendar().is_some() && store.uid_in(user, &path, uid)?.is_some() {
            return Ok(Some(path));
        }
    }
    Ok(None)
}

fn history(msg: &Inbound, detail: String) -> HistoryEntry {
    HistoryEntry {
        at: chrono::Utc::now().timestamp(),
        message_id: msg.message_id.clone(),
        from: msg.from.clone(),
        method: msg.method.as_str().to_string(),
        accepted: false,
        detail,
        dtstamp: dtstamp(&msg.ical),
        proposal: None,
    }
}

async fn to_organizer(
    store: &Store,
    config: &ImipConfig,
    msg: &Inbound,
    recipients: &[String],
) -> Outcome {
    let (user, organizer) = match organizer_user(store, msg, recipients) {
        Ok(Some(x)) => x,
        Ok(None) => {
            return record(
                store,
                msg,
                Outcome::Rejected("the organizer is not a user of this server".into()),
            )
            .await;
        }
        Err(e) => return temp(e),
    };
    let calendar = match calendar_of(store, &user, &msg.uid) {
        Ok(Some(c)) => c,
        Ok(None) => {
            return record(
                store,
                msg,
                Outcome::Rejected(format!("no event with UID {}", msg.uid)),
            )
            .await;
        }
        Err(e) => return temp(e),
    };
    let mut entry = history(msg, String::new());
    let refuse = |why: String| refuse(store, &user, msg, why);
    if let Err(why) = trusted(msg) {
        return refuse(why).await;
    }
    let attendees = scheduling::attendees_of(&msg.ical);
    if attendees.len() != 1 {
        return refuse(format!(
            "{} ATTENDEE lines; a {} speaks for exactly one",
            attendees.len(),
            msg.method.as_str()
        ))
        .await;
    }
    let attendee = attendees[0].clone();
    if let SenderAuth::Token(token) = &msg.sender_auth {
        // A reply to a per-invitation address counts for exactly that
        // (event, attendee), whatever its headers say.
        let valid = config
            .token_key
            .as_deref()
            .is_some_and(|key| inbound::verify_reply_token(key, token, &msg.uid, &attendee));
        if !valid {
            return refuse(format!(
                "the reply address was not issued for {attendee} and this event"
            ))
            .await;
        }
    } else if !scheduling::address_is(&msg.from, &attendee) {
        return refuse(format!("From {} is not the ATTENDEE {attendee}", msg.from)).await;
    }
    match msg.method {
        Method::Reply => {
            if let (Some(new), Ok(past)) = (dtstamp(&msg.ical), store.history(&user, &msg.uid)) {
                let newer_seen = past.iter().any(|h| {
                    h.accepted
                        && h.method == "REPLY"
                        && h.from == msg.from
                        && h.dtstamp.as_deref().is_some_and(|d| d > new.as_str())
                });
                if newer_seen {
                    return refuse(format!("stale: a newer REPLY from {attendee} was applied"))
                        .await;
                }
            }
            let partstat = partstat_of(&msg.ical);
            if !KNOWN_PARTSTATS.contains(&partstat.as_str()) {
                return refuse(format!("unknown PARTSTAT {partstat}")).await;
            }
            entry.detail = format!("{attendee} PARTSTAT={partstat}");
            let mine = match store.principal(&user) {
                Ok(p) => p.map(|p| p.emails).unwrap_or_default(),
                Err(e) => return temp(e),
            };
            let (ical, from) = (msg.ical.clone(), attendee.clone());
            let max = store.max_delegates_per_reply();
            let relay_store = store.clone();
            let f: InboundTransform = Box::new(move |cur| match cur {
                Some(c) => {
                    let text = scheduling::apply_reply(c, &ical, &from, &mine, max)
                        .map_err(|e| e.to_string())?;
                    let relayed = super::modes::relay_reply(&relay_store, &text, &from, &mine);
                    Ok(Some((text, relayed)))
                }
                None => Ok(None),
            });
            applied(
                store
                    .apply_inbound(&user, &calendar, &msg.uid, f, entry)
                    .await,
            )
        }
        Method::Counter => {
            super::modes::counter(store, &user, &calendar, msg, entry, &attendee).await
        }
        Method::Refresh => {
            let current = match store.uid_in(&user, &calendar, &msg.uid) {
                Ok(Some(name)) => store
                    .body(&user, &format!("{calendar}{name}"))
                    .ok()
                    .flatten(),
                _ => None,
            };
            let Some(text) = current.and_then(|b| String::from_utf8(b).ok()) else {
                return refuse("the event is gone".into()).await;
            };
            let status = |_: &str| "1.0".to_string();
            let messages = match scheduling::organizer_put(
                None,
                &text,
                std::slice::from_ref(&organizer),
                &status,
            ) {
                Ok(o) => o.messages,
                Err(e) => return refuse(format!("cannot rebuild the REQUEST: {e}")).await,
            };
            let outbox: Vec<NewMessage> = messages
                .into_iter()
                .filter(|m| m.recipient == attendee && m.method == Method::Request)
                .map(|m| super::write::outbox_entry(store, m))
                .collect();
            if outbox.is_empty() {
                return refuse(format!("{attendee} is not invited")).await;
            }
            entry.detail = format!("REQUEST sent again to {attendee}");
            let f: InboundTransform = Box::new(move |cur| Ok(cur.map(|c| (c.to_string(), outbox))));
            applied(
                store
                    .apply_inbound(&user, &calendar, &msg.uid, f, entry)
                    .await,
            )
        }
        _ => Outcome::Ignored("not a message for an organizer".into()),
    }
}

/// Record a refusal in the event's history (and the message as processed).
pub(super) async fn refuse(store: &Store, user: &str, msg: &Inbound, why: String) -> Outcome {
    match store
        .add_history(user, &msg.uid, history(msg, why.clone()))
        .await
    {
        Ok(Some(before)) => Outcome::Duplicate(before),
        Ok(None) => Outcome::Rejected(why),
        Err(e) => temp(e),
    }
}

/// PARTSTAT values of RFC 5545 section 3.2.12; anything else in a reply is
/// refused rather than allowed to overwrite an answer.
const KNOWN_PARTSTATS: &[&str] = &[
    "NEEDS-ACTION",
    "ACCEPTED",
    "DECLINED",
    "TENTATIVE",
    "DELEGATED",
    "COMPLETED",
    "IN-PROCESS",
];

/// The (upper-case) PARTSTAT of the first ATTENDEE line.
fn partstat_of(ical: &str) -> String {
    let unfolded = ical.replace("\r\n ", "").replace("\r\n\t", "");
    unfolded
        .lines()
        .find(|l| l.starts_with("ATTENDEE"))
        .and_then(|l| l.split(';').find_map(|p| p.strip_prefix("PARTSTAT=")))
        .map(|p| {
            p.split([':', ';'])
                .next()
                .unwrap_or(p)
                .trim_matches('"')
                .to_ascii_uppercase()
        })
        .unwrap_or_else(|| "NEEDS-ACTION".into())
}

pub(super) fn applied(r: Result<InboundApplied, StoreError>) -> Outcome {
    match r {
        Ok(InboundApplied::Applied(path)) => Outcome::Processed(format!("applied to {path}")),
        Ok(InboundApplied::Rejected(why)) => Outcome::Rejected(why),
        Ok(InboundApplied::Duplicate(before)) => Outcome::Duplicate(before),
        Err(e) => temp(e),
    }
}

/// Keep an inbound iTIP message in `user`'s schedule inbox.
pub(super) async fn copy_to_inbox(store: &Store, user: &str, msg: &Inbound) {
    let name = format!("in-{}", resource_name(&msg.message_id));
    if let Err(e) = store
        .put_inbox(user, &name, &msg.ical, msg.method.as_str())
        .await
    {
        tracing::warn!("ingest: inbox copy for {user} failed: {e}");
    }
}

/// REQUEST / CANCEL / ADD from an organizer elsewhere to our users.
async fn to_attendees(
    store: &Store,
    config: &ImipConfig,
    msg: &Inbound,
    recipients: &[String],
) -> Outcome {
    let Some(organizer) = scheduling::organizer_of(&msg.ical) else {
        return record(store, msg, Outcome::Rejected("no ORGANIZER".into())).await;
    };
    match store.principal_by_address(&organizer) {
        Ok(Some(_)) => {
            return record(
                store,
                msg,
                Outcome::Rejected(
                    "the ORGANIZER is a user of this server; only herald speaks for them".into(),
                ),
            )
            .await;
        }
        Ok(None) => {}
        Err(e) => return temp(e),
    }
    if let Err(why) = trusted(msg) {
        return record(store, msg, Outcome::Rejected(why)).await;
    }
    if !scheduling::address_is(&msg.from, &organizer) {
        return record(
            store,
            msg,
            Outcome::Rejected(format!(
                "From {} is not the ORGANIZER {organizer}",
                msg.from
            )),
        )
        .await;
    }
    let mut users = Vec::new();
    let mut addrs: Vec<String> = recipients
        .iter()
        .map(|r| scheduling::normalize_address(r))
        .collect();
    addrs.extend(scheduling::attendees_of(&msg.ical));
    for a in addrs {
        if let Ok(Some(u)) = store.principal_by_address(&a)
            && !users.iter().any(|(x, _): &(String, String)| x == &u)
            && scheduling::attendees_of(&msg.ical).contains(&a)
        {
            users.push((u, a));
        }
    }
    if users.is_empty() {
        return record(store, msg, Outcome::Rejected("no local attendee".into())).await;
    }
    // The authority rule (scheduling::may_change) decides first, so that a
    // refused message reaches neither the calendar nor the inbox; the
    // transform checks it again inside its transaction.
    let mut allowed = Vec::new();
    let mut refused = Vec::new();
    for (user, addr) in users {
        let itip = ItipMessage {
            method: msg.method,
            recipient: addr,
            sender: organizer.clone(),
            uid: msg.uid.clone(),
            sequence: 0,
            ical: msg.ical.clone(),
        };
        let current = match current_copy(store, &user, &msg.uid) {
            Ok(c) => c,
            Err(e) => return temp(e),
        };
        match current
            .as_deref()
            .map(|c| scheduling::may_deliver(c, &itip))
        {
            Some(Err(why)) => {
                tracing::warn!(
                    "ingest: {} {} from {organizer} refused for {user}: {why}",
                    msg.method.as_str(),
                    msg.uid
                );
                refused.push(format!("{user}: {why}"));
            }
            _ => allowed.push((user, itip, current.is_some())),
        }
    }
    if allowed.is_empty() {
        return record(store, msg, Outcome::Rejected(refused.join("; "))).await;
    }
    let mut summary = format!(
        "{} to {} local attendee(s)",
        msg.method.as_str(),
        allowed.len()
    );
    if !refused.is_empty() {
        summary.push_str(&format!("; refused for {}", refused.join("; ")));
    }
    let outcome = record(store, msg, Outcome::Processed(summary)).await;
    if !matches!(outcome, Outcome::Processed(_)) {
        return outcome;
    }
    for (user, itip, known) in allowed {
        copy_to_inbox(store, &user, msg).await;
        // An update or cancellation of an event the user already has goes to
        // their calendar; a new invitation only with auto_add_invitations.
        if !config.auto_add_invitations && !known {
            continue;
        }
        let name = format!("{}.ics", resource_name(&msg.uid));
        let f: Transform = match msg.method {
            Method::Cancel => Box::new(move |cur| {
                scheduling::deliver_cancel(cur, &itip).map_err(|e| e.to_string())
            }),
            _ => Box::new(move |cur| {
                scheduling::deliver_request(cur, &itip)
                    .map(Some)
                    .map_err(|e| e.to_string())
            }),
        };
        let calendar = match store.schedule_calendar(&user, &msg.uid, component_of(&msg.ical)) {
            Ok(Some(c)) => c,
            Ok(None) => {
                tracing::warn!("ingest: no calendar of {user} accepts {}", msg.uid);
                continue;
            }
            Err(e) => {
                tracing::warn!("ingest: finding {user}'s calendar failed: {e}");
                continue;
            }
        };
        if let Err(e) = store
            .transform_object(&user, &calendar, &msg.uid, &name, true, f)
            .await
        {
            tracing::warn!(
                "ingest: adding {} to {user}'s calendar failed: {e}",
                msg.uid
            );
        }
    }
    outcome
}

/// The text of `user`'s object with `uid` (in whichever calendar holds
/// it, where deliveries go), if any.
fn current_copy(store: &Store, user: &str, uid: &str) -> Result<Option<String>, StoreError> {
    let Some(calendar) = store.calendar_holding(user, uid)? else {
        return Ok(None);
    };
    let Some(name) = store.uid_in(user, &calendar, uid)? else {
        return Ok(None);
    };
    Ok(store
        .body(user, &format!("{calendar}{name}"))?
        .map(|b| String::from_utf8_lossy(&b).into_owned()))
}
