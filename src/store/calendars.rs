//! Which calendar scheduling uses: the calendar already holding an event,
//! else the default calendar for invitations (the schedule inbox's
//! CALDAV:schedule-default-calendar-URL, RFC 6638 section 9.2). A default
//! that was deleted, or that does not take the component, gives way to
//! `default/` and then to the first calendar that takes it, so the next
//! invitation still lands in a calendar.

use super::Store;
use super::error::Result;
use super::model::*;
use super::tables::*;
use super::write::{DEFAULT_CALENDAR, INBOX};
use redb::ReadableDatabase;

/// Whether a calendar collection takes objects of `component` (an empty
/// component set takes everything).
fn accepts(node: &Node, component: Option<&str>) -> bool {
    node.calendar().is_some_and(|c| {
        component.is_none_or(|k| c.components.is_empty() || c.components.iter().any(|x| x == k))
    })
}

/// The component an iTIP message is about: its first component other
/// than VCALENDAR and the time zone parts.
pub fn component_of(ical: &str) -> Option<&str> {
    ical.lines().find_map(|l| {
        let name = l.trim_end_matches('\r').strip_prefix("BEGIN:")?.trim();
        (!matches!(name, "VCALENDAR" | "VTIMEZONE" | "STANDARD" | "DAYLIGHT")).then_some(name)
    })
}

impl Store {
    /// The calendar (path below the home) new invitations of `user` for
    /// `component` go to, None when no calendar of theirs takes it.
    pub fn default_calendar(&self, user: &str, component: Option<&str>) -> Result<Option<String>> {
        let txn = self.db.begin_read()?;
        let nodes = txn.open_table(NODES)?;
        let get = |path: &str| -> Result<Option<Node>> {
            match nodes.get(node_key(user, path).as_str())? {
                Some(v) => Ok(Some(serde_json::from_slice(v.value())?)),
                None => Ok(None),
            }
        };
        let chosen = get(INBOX)?.and_then(|n| n.collection()?.default_calendar.clone());
        for path in chosen.iter().map(String::as_str).chain([DEFAULT_CALENDAR]) {
            if get(path)?.is_some_and(|n| accepts(&n, component)) {
                return Ok(Some(path.to_string()));
            }
        }
        // The first calendar of the home that takes the component.
        let prefix = node_key(user, "");
        for entry in nodes.range(prefix.as_str()..)? {
            let (k, v) = entry?;
            let Some(rest) = k.value().strip_prefix(prefix.as_str()) else {
                break;
            };
            let direct_collection = rest.find('/').is_some_and(|i| i == rest.len() - 1);
            if !direct_collection {
                continue;
            }
            let node: Node = serde_json::from_slice(v.value())?;
            if accepts(&node, component) {
                return Ok(Some(rest.to_string()));
            }
        }
        Ok(None)
    }

    /// The calendar of `user` holding `uid`, if any.
    pub fn calendar_holding(&self, user: &str, uid: &str) -> Result<Option<String>> {
        for (path, node) in self.children(user, "")? {
            if node.calendar().is_some() && self.uid_in(user, &path, uid)?.is_some() {
                return Ok(Some(path));
            }
        }
        Ok(None)
    }

    /// Where a scheduling message for `uid` about `component` is applied:
    /// the calendar holding `uid`, else the default calendar.
    pub fn schedule_calendar(
        &self,
        user: &str,
        uid: &str,
        component: Option<&str>,
    ) -> Result<Option<String>> {
        match self.calendar_holding(user, uid)? {
            Some(p) => Ok(Some(p)),
            None => self.default_calendar(user, component),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn component_of_itip() {
        let t = "BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nBEGIN:VTIMEZONE\r\nBEGIN:STANDARD\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\nBEGIN:VTODO\r\nEND:VTODO\r\nEND:VCALENDAR\r\n";
        assert_eq!(component_of(t), Some("VTODO"));
        assert_eq!(component_of("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"), None);
    }
}
