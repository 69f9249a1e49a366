//! Live properties: for each resource kind, which properties exist, which
//! appear in allprop, which are protected, and their values. Dead
//! properties are returned as stored.

use super::Ctx;
use super::path::{self, CALENDARS, DAV_ROOT, PRINCIPALS};
use super::xml::{NS_APPLE, NS_CALDAV, NS_CALSERVER, NS_DAV, Prop, QName, escape};
use crate::store::{INBOX, Node, NodeKind, OUTBOX_PATH, Principal, ScheduleBox, SyncToken};
use chrono::{DateTime, Utc};

/// The resource a property is asked of.
pub enum Res<'a> {
    Root,
    PrincipalsRoot,
    CalendarsRoot,
    Principal(&'a Principal),
    Node {
        user: &'a str,
        path: &'a str,
        node: &'a Node,
    },
}

impl Res<'_> {
    pub fn href(&self) -> String {
        match self {
            Res::Root => DAV_ROOT.into(),
            Res::PrincipalsRoot => PRINCIPALS.into(),
            Res::CalendarsRoot => CALENDARS.into(),
            Res::Principal(p) => path::principal_href(&p.name),
            Res::Node { user, path, .. } => path::node_href(user, path),
        }
    }

    fn node(&self) -> Option<&Node> {
        match self {
            Res::Node { node, .. } => Some(node),
            _ => None,
        }
    }

    fn is_collection(&self) -> bool {
        self.node().is_none_or(Node::is_collection)
    }
}

/// Names of live properties of a resource; `true` when in DAV:allprop.
fn live_names(res: &Res<'_>) -> Vec<(QName, bool)> {
    let mut v: Vec<(QName, bool)> = Vec::new();
    let mut dav = |n: &str, all: bool| v.push((QName::dav(n), all));
    dav("resourcetype", true);
    dav("current-user-principal", false);
    dav("current-user-privilege-set", false);
    dav("principal-collection-set", false);
    dav("supported-report-set", false);
    match res {
        Res::Root | Res::PrincipalsRoot | Res::CalendarsRoot => {}
        Res::Principal(_) => {
            dav("displayname", true);
            dav("principal-URL", false);
            dav("owner", false);
            v.push((QName::caldav("calendar-home-set"), false));
            v.push((QName::caldav("calendar-user-address-set"), false));
            v.push((QName::caldav("calendar-user-type"), false));
            v.push((QName::caldav("schedule-inbox-URL"), false));
            v.push((QName::caldav("schedule-outbox-URL"), false));
            v.push((QName::caldav("schedule-default-calendar-URL"), false));
        }
        Res::Node { node, .. } => {
            dav("owner", false);
            dav("lockdiscovery", false);
            dav("supportedlock", false);
            dav("creationdate", true);
            dav("getlastmodified", true);
            if node.displayname.is_some() {
                dav("displayname", true);
            }
            match &node.kind {
                NodeKind::Resource(r) => {
                    dav("getetag", true);
                    dav("getcontenttype", true);
                    dav("getcontentlength", true);
                    if r.schedule_tag.is_some() {
                        v.push((QName::caldav("schedule-tag"), false));
                    }
                }
                NodeKind::Collection(c) => {
                    dav("sync-token", false);
                    dav("quota-used-bytes", false);
                    dav("quota-available-bytes", false);
                    if c.schedule == Some(ScheduleBox::Inbox) {
                        v.push((QName::caldav("schedule-default-calendar-URL"), false));
                    }
                    if let Some(cal) = &c.calendar {
                        let mut cd = |n: &str| v.push((QName::caldav(n), false));
                        cd("supported-calendar-component-set");
                        cd("supported-calendar-data");
                        cd("max-resource-size");
                        cd("max-attendees-per-instance");
                        cd("schedule-calendar-transp");
                        if cal.description.is_some() {
                            cd("calendar-description");
                        }
                        if cal.timezone.is_some() {
                            cd("calendar-timezone");
                        }
                        v.push((QName::new(NS_CALSERVER, "getctag"), false));
                        if cal.color.is_some() {
                            v.push((QName::new(NS_APPLE, "calendar-color"), false));
                        }
                        if cal.order.is_some() {
                            v.push((QName::new(NS_APPLE, "calendar-order"), false));
                        }
                    }
                }
            }
        }
    }
    v
}

fn is_inbox(node: &Node) -> bool {
    node.collection()
        .is_some_and(|c| c.schedule == Some(ScheduleBox::Inbox))
}

/// Properties a client may never set (RFC 4918 section 15, RFC 4791 section 5.2).
pub fn is_protected(name: &QName) -> bool {
    const DAV_PROTECTED: &[&str] = &[
        "resourcetype",
        "getetag",
        "getcontentlength",
        "getlastmodified",
        "creationdate",
        "lockdiscovery",
        "supportedlock",
        "current-user-principal",
        "current-user-privilege-set",
        "principal-URL",
        "principal-collection-set",
        "owner",
        "supported-report-set",
        "sync-token",
        "quota-used-bytes",
        "quota-available-bytes",
        "acl",
    ];
    const CALDAV_PROTECTED: &[&str] = &[
        "supported-calendar-data",
        "max-resource-size",
        "max-attendees-per-instance",
        "calendar-home-set",
        "calendar-user-address-set",
        "calendar-data",
        "min-date-time",
        "max-date-time",
        "max-instances",
        "schedule-tag",
        "schedule-inbox-URL",
        "schedule-outbox-URL",
    ];
    (name.ns == NS_DAV && DAV_PROTECTED.contains(&name.name.as_str()))
        || (name.ns == NS_CALDAV && CALDAV_PROTECTED.contains(&name.name.as_str()))
        || name.is(NS_CALSERVER, "getctag")
}

fn href(h: &str) -> String {
    format!("<D:href>{}</D:href>", escape(h))
}

fn http_date(t: i64) -> String {
    DateTime::<Utc>::from_timestamp(t, 0)
        .unwrap_or_default()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

fn rfc3339(t: i64) -> String {
    DateTime::<Utc>::from_timestamp(t, 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

const OWNER_PRIVILEGES: &str = "<D:privilege><D:all/></D:privilege>\
<D:privilege><D:read/></D:privilege>\
<D:privilege><D:write/></D:privilege>\
<D:privilege><D:write-properties/></D:privilege>\
<D:privilege><D:write-content/></D:privilege>\
<D:privilege><D:bind/></D:privilege>\
<D:privilege><D:unbind/></D:privilege>\
<D:privilege><D:read-current-user-privilege-set/></D:privilege>\
<D:privilege><C:read-free-busy/></D:privilege>";

const READ_PRIVILEGES: &str = "<D:privilege><D:read/></D:privilege>\
<D:privilege><D:read-current-user-privilege-set/></D:privilege>";

fn reports(names: &[(&str, &str)]) -> String {
    names
        .iter()
        .map(|(p, n)| {
            format!("<D:supported-report><D:report><{p}:{n}/></D:report></D:supported-report>")
        })
        .collect()
}

/// The value of a live property, or None when the resource has no such property.
pub fn live_value(ctx: &Ctx<'_>, res: &Res<'_>, name: &QName) -> Option<Prop> {
    let user = ctx.user.as_str();
    let xml = |s: String| Some(Prop::Xml(name.clone(), s));
    let text = |s: String| Some(Prop::Text(name.clone(), s));
    let node = res.node();
    let cal = node.and_then(Node::calendar);
    match (name.ns.as_str(), name.name.as_str()) {
        (NS_DAV, "resourcetype") => {
            let mut s = String::new();
            if res.is_collection() {
                s.push_str("<D:collection/>");
            }
            if matches!(res, Res::Principal(_)) {
                s.push_str("<D:principal/>");
            }
            if cal.is_some() {
                s.push_str("<C:calendar/>");
            }
            match node.and_then(Node::collection).and_then(|c| c.schedule) {
                Some(ScheduleBox::Inbox) => s.push_str("<C:schedule-inbox/>"),
                Some(ScheduleBox::Outbox) => s.push_str("<C:schedule-outbox/>"),
                None => {}
            }
            xml(s)
        }
        (NS_DAV, "current-user-principal") => xml(href(&path::principal_href(user))),
        (NS_DAV, "principal-collection-set") => xml(href(PRINCIPALS)),
        (NS_DAV, "current-user-privilege-set") => match res {
            Res::Principal(_) | Res::Node { .. } => xml(OWNER_PRIVILEGES.into()),
            _ => xml(READ_PRIVILEGES.into()),
        },
        (NS_DAV, "supported-report-set") => {
            let list = match res {
                Res::Principal(_) => reports(&[
                    ("D", "principal-property-search"),
                    ("D", "principal-search-property-set"),
                ]),
                Res::Node { node, .. } if node.calendar().is_some() => reports(&[
                    ("C", "calendar-query"),
                    ("C", "calendar-multiget"),
                    ("C", "free-busy-query"),
                    ("D", "sync-collection"),
                ]),
                Res::Node { node, .. } if is_inbox(node) => {
                    reports(&[("C", "calendar-query"), ("D", "sync-collection")])
                }
                Res::Node { node, .. } if node.is_collection() => {
                    reports(&[("D", "sync-collection")])
                }
                _ => String::new(),
            };
            xml(list)
        }
        (NS_DAV, "displayname") => match res {
            Res::Principal(p) => text(p.displayname.clone().unwrap_or_else(|| p.name.clone())),
            _ => node
                .and_then(|n| n.displayname.clone())
                .map(|d| Prop::Text(name.clone(), d)),
        },
        (NS_DAV, "principal-URL") => match res {
            Res::Principal(p) => xml(href(&path::principal_href(&p.name))),
            _ => None,
        },
        (NS_DAV, "owner") => match res {
            Res::Principal(p) => xml(href(&path::principal_href(&p.name))),
            Res::Node { user, .. } => xml(href(&path::principal_href(user))),
            _ => None,
        },
        (NS_DAV, "creationdate") => node.map(|n| Prop::Text(name.clone(), rfc3339(n.created))),
        (NS_DAV, "getlastmodified") => {
            node.map(|n| Prop::Text(name.clone(), http_date(n.modified)))
        }
        (NS_DAV, "getetag") => node
            .filter(|n| !n.is_collection())
            .map(|n| Prop::Text(name.clone(), n.etag.clone())),
        (NS_DAV, "getcontenttype") => node
            .and_then(Node::resource)
            .map(|r| Prop::Text(name.clone(), r.content_type.clone())),
        (NS_DAV, "lockdiscovery") => match res {
            Res::Node { user, path, .. } => xml(ctx.app.locks.discovery(user, path)),
            _ => None,
        },
        (NS_DAV, "supportedlock") => match res {
            Res::Node { .. } => xml(super::lock::SUPPORTED_LOCK.into()),
            _ => None,
        },
        (NS_DAV, "getcontentlength") => node
            .and_then(Node::resource)
            .map(|r| Prop::Text(name.clone(), r.size.to_string())),
        (NS_DAV, "sync-token") => node.and_then(Node::collection).map(|c| {
            Prop::Text(
                name.clone(),
                SyncToken {
                    collection: c.id,
                    seq: c.sync_seq,
                }
                .format(),
            )
        }),
        (NS_CALSERVER, "getctag") => node
            .and_then(Node::collection)
            .filter(|c| c.calendar.is_some())
            .map(|c| {
                Prop::Text(
                    name.clone(),
                    SyncToken {
                        collection: c.id,
                        seq: c.sync_seq,
                    }
                    .format(),
                )
            }),
        (NS_DAV, "quota-used-bytes") | (NS_DAV, "quota-available-bytes") => {
            let Res::Node { user, node, .. } = res else {
                return None;
            };
            if !node.is_collection() {
                return None;
            }
            let used = ctx.app.store.usage(user).unwrap_or(0);
            if name.name == "quota-used-bytes" {
                text(used.to_string())
            } else {
                text(
                    ctx.app
                        .config
                        .limits
                        .quota_bytes
                        .saturating_sub(used)
                        .to_string(),
                )
            }
        }
        (NS_CALDAV, "calendar-home-set") => match res {
            Res::Principal(p) => xml(href(&path::home_href(&p.name))),
            _ => None,
        },
        (NS_CALDAV, "calendar-user-address-set") => match res {
            Res::Principal(p) => {
                let mut s: String = p.emails.iter().map(|e| href(e)).collect();
                s.push_str(&href(&path::principal_href(&p.name)));
                xml(s)
            }
            _ => None,
        },
        (NS_CALDAV, "schedule-inbox-URL") => match res {
            Res::Principal(p) => xml(href(&path::node_href(&p.name, INBOX))),
            _ => None,
        },
        (NS_CALDAV, "schedule-outbox-URL") => match res {
            Res::Principal(p) => xml(href(&path::node_href(&p.name, OUTBOX_PATH))),
            _ => None,
        },
        (NS_CALDAV, "schedule-default-calendar-URL") => {
            let owner = match res {
                Res::Principal(p) => p.name.as_str(),
                Res::Node { user, node, .. } if is_inbox(node) => user,
                _ => return None,
            };
            // RFC 6638 section 9.2: the calendar invitations go to.
            let cal = ctx.app.store.default_calendar(owner, Some("VEVENT")).ok()?;
            xml(cal.map_or_else(String::new, |c| href(&path::node_href(owner, &c))))
        }
        (NS_CALDAV, "schedule-calendar-transp") => cal.map(|c| {
            let v = if c.transparent {
                "transparent"
            } else {
                "opaque"
            };
            Prop::Xml(name.clone(), format!("<C:{v}/>"))
        }),
        (NS_CALDAV, "schedule-tag") => node
            .and_then(Node::resource)
            .and_then(|r| r.schedule_tag.clone())
            .map(|t| Prop::Text(name.clone(), t)),
        (NS_CALDAV, "calendar-user-type") => match res {
            Res::Principal(_) => text("INDIVIDUAL".into()),
            _ => None,
        },
        (NS_CALDAV, "supported-calendar-component-set") => cal.map(|c| {
            let s = c
                .components
                .iter()
                .map(|n| format!("<C:comp name=\"{}\"/>", escape(n)))
                .collect();
            Prop::Xml(name.clone(), s)
        }),
        (NS_CALDAV, "supported-calendar-data") => cal.map(|_| {
            Prop::Xml(
                name.clone(),
                "<C:calendar-data content-type=\"text/calendar\" version=\"2.0\"/>".into(),
            )
        }),
        (NS_CALDAV, "max-resource-size") => cal.map(|_| {
            Prop::Text(
                name.clone(),
                ctx.app.config.limits.max_resource_bytes.to_string(),
            )
        }),
        (NS_CALDAV, "max-attendees-per-instance") => cal.map(|_| {
            Prop::Text(
                name.clone(),
                ctx.app.config.limits.max_attendees_per_instance.to_string(),
            )
        }),
        (NS_CALDAV, "calendar-description") => cal
            .and_then(|c| c.description.clone())
            .map(|d| Prop::Text(name.clone(), d)),
        (NS_CALDAV, "calendar-timezone") => cal
            .and_then(|c| c.timezone.clone())
            .map(|d| Prop::Text(name.clone(), d)),
        (NS_APPLE, "calendar-color") => cal
            .and_then(|c| c.color.clone())
            .map(|d| Prop::Text(name.clone(), d)),
        (NS_APPLE, "calendar-order") => cal
            .and_then(|c| c.order.clone())
            .map(|d| Prop::Text(name.clone(), d)),
        _ => None,
    }
}

/// Value of any property: live first, then dead.
pub fn value(ctx: &Ctx<'_>, res: &Res<'_>, name: &QName) -> Option<Prop> {
    if let Some(p) = live_value(ctx, res, name) {
        return Some(p);
    }
    res.node()?
        .dead_props
        .iter()
        .find(|d| d.ns == name.ns && d.name == name.name)
        .map(|d| Prop::Raw(d.xml.clone()))
}

/// Every property name of a resource (DAV:propname), live then dead.
pub fn all_names(res: &Res<'_>) -> Vec<QName> {
    let mut names: Vec<QName> = live_names(res).into_iter().map(|(n, _)| n).collect();
    if let Some(node) = res.node() {
        names.extend(node.dead_props.iter().map(|d| QName::new(&d.ns, &d.name)));
    }
    names
}

/// DAV:allprop: the allprop live properties, every dead property, and the
/// names in DAV:include.
pub fn allprop(ctx: &Ctx<'_>, res: &Res<'_>, include: &[QName]) -> Vec<Prop> {
    let names = live_names(res);
    let mut out: Vec<Prop> = names
        .iter()
        .filter(|(n, all)| *all || include.contains(n))
        .filter_map(|(n, _)| live_value(ctx, res, n))
        .collect();
    if let Some(node) = res.node() {
        out.extend(node.dead_props.iter().map(|d| Prop::Raw(d.xml.clone())));
    }
    for n in include {
        if !names.iter().any(|(l, _)| l == n)
            && let Some(p) = live_value(ctx, res, n)
        {
            out.push(p);
        }
    }
    out
}
