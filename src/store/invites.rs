//! Invitations and their reminders (issue 11). Table `invites`: (event
//! node key, attendee address) -> Invite: when the first REQUEST to that
//! attendee was queued, how many reminders went out and when the next is
//! due. Written by `W::enqueue` in the transaction that queues the REQUEST
//! (a CANCEL to the attendee removes it), so "who has not answered since
//! when" is computed from stored state, and the reminder timer exists
//! exactly when a reminder is still to come.

use super::Store;
use super::error::Result;
use super::model::NewMessage;
use super::tables::{INVITES, node_key};
use super::timers::TimerKind;
use super::write::{W, now};
use redb::{ReadableDatabase, ReadableTable};
use serde::{Deserialize, Serialize};

/// One attendee's invitation to one event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Invite {
    /// When the first REQUEST was queued (Unix seconds).
    pub invited_at: i64,
    pub reminders_sent: u32,
    /// When the next reminder is due, if one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_reminder_at: Option<i64>,
    /// Key of the reminder timer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timer: Option<(i64, u64)>,
}

/// The reminder rule (see `timers::Effect::Reminder`).
pub type ReminderRule = Box<dyn FnOnce(&str) -> Option<NewMessage> + Send>;

fn bare(recipient: &str) -> String {
    recipient
        .strip_prefix("mailto:")
        .unwrap_or(recipient)
        .to_ascii_lowercase()
}

impl W<'_> {
    fn invite(&self, key: &str, email: &str) -> Result<Option<Invite>> {
        let t = self.0.open_table(INVITES)?;
        let v = t.get((key, email))?;
        Ok(match v {
            Some(v) => Some(serde_json::from_slice(v.value())?),
            None => None,
        })
    }

    fn put_invite(&self, key: &str, email: &str, i: &Invite) -> Result<()> {
        let bytes = serde_json::to_vec(i)?;
        self.0
            .open_table(INVITES)?
            .insert((key, email), bytes.as_slice())?;
        Ok(())
    }

    /// Record the invitations among `messages` queued for the object at
    /// `path` of `owner` (a first REQUEST starts one, with its reminder
    /// when the event has `remind_after`; a CANCEL ends one).
    pub(super) fn note_invitations(
        &self,
        owner: &str,
        path: &str,
        messages: &[NewMessage],
    ) -> Result<()> {
        let key = node_key(owner, path);
        let mut policy = None;
        for m in messages {
            let email = bare(&m.recipient);
            match m.method.as_str() {
                "REQUEST" if !m.reminder => {
                    if self.invite(&key, &email)?.is_some() {
                        continue;
                    }
                    if policy.is_none() {
                        policy = Some(self.policy(&key)?);
                    }
                    let t = now();
                    let mut invite = Invite {
                        invited_at: t,
                        reminders_sent: 0,
                        next_reminder_at: None,
                        timer: None,
                    };
                    if let Some(Some(p)) = &policy
                        && let Some(after) = p.settings.remind_after
                        && p.settings.max_reminders > 0
                    {
                        let due = t.saturating_add(after);
                        invite.next_reminder_at = Some(due);
                        invite.timer = Some(self.reminder_timer(owner, path, &email, due)?);
                    }
                    self.put_invite(&key, &email, &invite)?;
                }
                "CANCEL" => {
                    let mut table = self.0.open_table(INVITES)?;
                    let old: Option<Invite> = match table.remove((key.as_str(), email.as_str()))? {
                        Some(v) => serde_json::from_slice(v.value()).ok(),
                        None => None,
                    };
                    drop(table);
                    if let Some(timer) = old.and_then(|i| i.timer) {
                        self.remove_timer(timer)?;
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn reminder_timer(&self, user: &str, path: &str, email: &str, due: i64) -> Result<(i64, u64)> {
        self.add_timer(
            due,
            TimerKind::Reminder {
                user: user.to_string(),
                path: path.to_string(),
                email: email.to_string(),
            },
        )
    }

    /// Reminders were switched on (or their delay changed): every
    /// invitation of the event still to be reminded gets its timer.
    pub(super) fn reschedule_reminders(
        &self,
        user: &str,
        key: &str,
        p: &super::seats::Policy,
    ) -> Result<()> {
        let Some(after) = p.settings.remind_after else {
            return Ok(());
        };
        let path = &key[user.len() + 1..];
        let mut rows = Vec::new();
        {
            let t = self.0.open_table(INVITES)?;
            for row in t.range((key, "")..)? {
                let (k, v) = row?;
                let (k_key, email) = k.value();
                if k_key != key {
                    break;
                }
                let i: Invite = serde_json::from_slice(v.value())?;
                rows.push((email.to_string(), i));
            }
        }
        let t = now();
        for (email, mut i) in rows {
            if let Some(timer) = i.timer.take() {
                self.remove_timer(timer)?;
            }
            i.next_reminder_at = None;
            if i.reminders_sent < p.settings.max_reminders {
                let due = i.invited_at.saturating_add(after).max(t);
                i.next_reminder_at = Some(due);
                i.timer = Some(self.reminder_timer(user, path, &email, due)?);
            }
            self.put_invite(key, &email, &i)?;
        }
        Ok(())
    }

    /// Run a due reminder timer `timer` (removed by the caller): queue the
    /// REQUEST again when `rule` says one is due and fewer than
    /// `max_reminders` went out, and schedule the next.
    pub(super) fn remind(
        &self,
        user: &str,
        path: &str,
        email: &str,
        timer: (i64, u64),
        rule: ReminderRule,
        limit: u64,
    ) -> Result<()> {
        let key = node_key(user, path);
        let Some(mut invite) = self.invite(&key, email)? else {
            return Ok(());
        };
        if invite.timer != Some(timer) {
            return Ok(());
        }
        invite.timer = None;
        invite.next_reminder_at = None;
        let settings = self.policy(&key)?.map(|p| p.settings).unwrap_or_default();
        let text = self
            .body(&key)?
            .map(|b| String::from_utf8_lossy(&b).into_owned());
        let message = match text {
            Some(text) if invite.reminders_sent < settings.max_reminders => rule(&text),
            _ => None,
        };
        if let Some(message) = &message
            && let Some(later) = self.over_budget(user, std::slice::from_ref(message), limit)?
        {
            // A reminder is an invitation sent again: over the owner's
            // hourly budget it waits until there is room.
            invite.next_reminder_at = Some(later);
            invite.timer = Some(self.reminder_timer(user, path, email, later)?);
            return self.put_invite(&key, email, &invite);
        }
        if let Some(mut message) = message {
            message.reminder = true;
            self.enqueue(user, path, vec![message])?;
            invite.reminders_sent += 1;
            let detail = format!(
                "reminder {} of {} to {email}, who has not answered",
                invite.reminders_sent, settings.max_reminders
            );
            self.note_timer_step(user, &key, "REMINDED", detail)?;
            if let Some(after) = settings.remind_after
                && invite.reminders_sent < settings.max_reminders
            {
                let due = now().saturating_add(after);
                invite.next_reminder_at = Some(due);
                invite.timer = Some(self.reminder_timer(user, path, email, due)?);
            }
        }
        self.put_invite(&key, email, &invite)
    }
}

impl Store {
    /// The invitations of the event at `path`, by attendee address.
    pub fn invites(&self, user: &str, path: &str) -> Result<Vec<(String, Invite)>> {
        let key = node_key(user, path);
        let txn = self.db.begin_read()?;
        let t = txn.open_table(INVITES)?;
        let mut out = Vec::new();
        for row in t.range((key.as_str(), "")..)? {
            let (k, v) = row?;
            let (k_key, email) = k.value();
            if k_key != key {
                break;
            }
            out.push((email.to_string(), serde_json::from_slice(v.value())?));
        }
        Ok(out)
    }

    /// Every invitation of `user`'s events queued at `before` or earlier:
    /// (event path, address, invite).
    pub fn invites_before(&self, user: &str, before: i64) -> Result<Vec<(String, String, Invite)>> {
        let prefix = format!("{user}/");
        let txn = self.db.begin_read()?;
        let t = txn.open_table(INVITES)?;
        let mut out = Vec::new();
        for row in t.range((prefix.as_str(), "")..)? {
            let (k, v) = row?;
            let (k_key, email) = k.value();
            let Some(path) = k_key.strip_prefix(&prefix) else {
                break;
            };
            let i: Invite = serde_json::from_slice(v.value())?;
            if i.invited_at <= before {
                out.push((path.to_string(), email.to_string(), i));
            }
        }
        Ok(out)
    }
}
