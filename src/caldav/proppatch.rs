//! PROPPATCH (RFC 4918 section 9.2): all instructions succeed together or
//! none is applied (a refused one gets 403, the others 424). Known live
//! properties map to store fields; everything else is kept dead.

use super::error::{DavError, DavResult, Precondition};
use super::path::{Target, href_target};
use super::props::{Res, is_protected};
use super::xml::{
    self, Multistatus, NS_APPLE, NS_CALDAV, NS_DAV, Prop, PropPatchOp, PropStat, QName,
};
use super::{Ctx, Resp, xml_response};
use crate::store::{DeadProp, PropChange, ScheduleBox};
use hyper::StatusCode;

/// Map one PROPPATCH/MKCOL instruction to a store change. `calendar` says
/// whether the target is a calendar collection. Err(()) means protected.
pub fn to_change(op: &PropPatchOp, calendar: bool) -> Result<PropChange, String> {
    let name = match op {
        PropPatchOp::Set(n, _) | PropPatchOp::Remove(n) => n,
    };
    if is_protected(name) {
        return Err(format!("{name} is protected"));
    }
    let value = match op {
        PropPatchOp::Set(_, v) => Some(v),
        PropPatchOp::Remove(_) => None,
    };
    let text = value.map(|v| v.text.clone());
    let live = match (name.ns.as_str(), name.name.as_str()) {
        (NS_DAV, "displayname") => Some(PropChange::DisplayName(text.clone())),
        (NS_CALDAV, "calendar-description") if calendar => {
            Some(PropChange::Description(text.clone()))
        }
        (NS_APPLE, "calendar-color") if calendar => Some(PropChange::Color(text.clone())),
        (NS_APPLE, "calendar-order") if calendar => Some(PropChange::Order(text.clone())),
        (NS_CALDAV, "calendar-timezone") if calendar => {
            if let Some(t) = &text
                && !t.contains("BEGIN:VTIMEZONE")
            {
                return Err("calendar-timezone must hold a VCALENDAR with a VTIMEZONE".into());
            }
            Some(PropChange::Timezone(text.clone()))
        }
        (NS_CALDAV, "schedule-calendar-transp") if calendar => {
            let transparent = match value {
                None => false,
                Some(v) if v.children.iter().any(|c| c.is(NS_CALDAV, "transparent")) => true,
                Some(v) if v.children.iter().any(|c| c.is(NS_CALDAV, "opaque")) => false,
                Some(_) => {
                    return Err("schedule-calendar-transp must be opaque or transparent".into());
                }
            };
            Some(PropChange::Transparent(transparent))
        }
        (NS_CALDAV, "supported-calendar-component-set") if calendar => {
            return Err("supported-calendar-component-set is set at creation only".into());
        }
        _ => None,
    };
    if let Some(change) = live {
        return Ok(change);
    }
    Ok(match value {
        Some(v) => PropChange::SetDead(DeadProp {
            ns: name.ns.clone(),
            name: name.name.clone(),
            xml: v.xml.clone(),
        }),
        None => PropChange::RemoveDead {
            ns: name.ns.clone(),
            name: name.name.clone(),
        },
    })
}

/// CALDAV:schedule-default-calendar-URL set on the schedule inbox (RFC 6638
/// section 9.2): one of the same user's calendars that takes VEVENTs.
fn default_calendar_change(ctx: &Ctx<'_>, user: &str, op: &PropPatchOp) -> DavResult<PropChange> {
    let PropPatchOp::Set(_, value) = op else {
        return Ok(PropChange::DefaultCalendar(None));
    };
    let refuse = || {
        DavError::precondition(
            Precondition::ValidScheduleDefaultCalendarUrl,
            "schedule-default-calendar-URL must name one of your calendars that takes VEVENTs",
        )
    };
    let Ok(Target::Node { user: owner, path }) = href_target(value.text.trim()) else {
        return Err(refuse());
    };
    if owner != user || path.is_empty() {
        return Err(refuse());
    }
    let path = if path.ends_with('/') {
        path
    } else {
        format!("{path}/")
    };
    let takes_events = ctx.app.store.node(user, &path)?.is_some_and(|n| {
        n.calendar()
            .is_some_and(|c| c.components.is_empty() || c.components.iter().any(|k| k == "VEVENT"))
    });
    if !takes_events {
        return Err(refuse());
    }
    Ok(PropChange::DefaultCalendar(Some(path)))
}

pub async fn proppatch(ctx: &Ctx<'_>) -> DavResult<Resp> {
    let (user, path) = ctx.node_target()?;
    let (path, node) = ctx.find_node(user, path)?.ok_or_else(DavError::not_found)?;
    let ops = xml::parse_propertyupdate(&ctx.body)?;
    let calendar = node.calendar().is_some();
    let inbox = node
        .collection()
        .is_some_and(|c| c.schedule == Some(ScheduleBox::Inbox));
    let mut changes = Vec::new();
    let mut refused: Vec<QName> = Vec::new();
    let mut names: Vec<QName> = Vec::new();
    for op in &ops {
        let name = match op {
            PropPatchOp::Set(n, _) | PropPatchOp::Remove(n) => n.clone(),
        };
        let change = if inbox && name.is(NS_CALDAV, "schedule-default-calendar-URL") {
            Ok(default_calendar_change(ctx, user, op)?)
        } else {
            to_change(op, calendar)
        };
        match change {
            Ok(c) => changes.push(c),
            Err(why) => {
                tracing::debug!("PROPPATCH refused: {why}");
                refused.push(name.clone());
            }
        }
        if !names.contains(&name) {
            names.push(name);
        }
    }
    let res = Res::Node {
        user,
        path: &path,
        node: &node,
    };
    let mut ms = Multistatus::new();
    if refused.is_empty() {
        ctx.app.store.proppatch(user, &path, changes).await?;
        ms.response(
            &res.href(),
            &[PropStat {
                status: 200,
                props: names.into_iter().map(Prop::Empty).collect(),
            }],
        );
    } else {
        let failed: Vec<Prop> = names
            .iter()
            .filter(|n| !refused.contains(n))
            .cloned()
            .map(Prop::Empty)
            .collect();
        let mut stats = vec![PropStat {
            status: 403,
            props: refused.into_iter().map(Prop::Empty).collect(),
        }];
        if !failed.is_empty() {
            stats.push(PropStat {
                status: 424,
                props: failed,
            });
        }
        ms.response(&res.href(), &stats);
    }
    Ok(xml_response(StatusCode::MULTI_STATUS, ms.finish()))
}
