//! MKCOL (RFC 4918 section 9.3, extended by RFC 5689) and MKCALENDAR
//! (RFC 4791 section 5.3.1): create a plain or a calendar collection, with
//! initial properties applied in the same transaction.

use super::error::{DavError, DavResult, Precondition};
use super::proppatch::to_change;
use super::xml::{self, NS_CALDAV, NS_DAV, PropPatchOp};
use super::{Ctx, Resp, empty};
use crate::ical::ComponentKind;
use crate::store::{CalendarProps, NewCollection, StoreError, parent_path};
use hyper::StatusCode;

/// Components a new calendar accepts when the client names none.
const DEFAULT_COMPONENTS: &[&str] = &["VEVENT", "VTODO", "VJOURNAL"];

pub async fn mkcol(ctx: &Ctx<'_>, mkcalendar: bool) -> DavResult<Resp> {
    let (user, path) = ctx.node_target()?;
    if path.is_empty() {
        return Err(DavError::status(
            StatusCode::METHOD_NOT_ALLOWED,
            "the calendar home already exists",
        ));
    }
    let path = if path.ends_with('/') {
        path.to_string()
    } else {
        format!("{path}/")
    };
    let ops = if ctx.body.iter().all(u8::is_ascii_whitespace) {
        Vec::new()
    } else {
        let parsed = xml::parse_mkcol(&ctx.body);
        let (root, ops) = match parsed {
            Ok(x) => x,
            Err(e) if !mkcalendar => {
                return Err(DavError::status(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    format!("MKCOL body is not an extended MKCOL request: {e}"),
                ));
            }
            Err(e) => return Err(e.into()),
        };
        let expected = if mkcalendar {
            root.is(NS_CALDAV, "mkcalendar")
        } else {
            root.is(NS_DAV, "mkcol")
        };
        if !expected {
            return Err(DavError::status(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("unexpected body element {root}"),
            ));
        }
        ops
    };
    let mut calendar = mkcalendar;
    let mut components: Vec<String> = Vec::new();
    let mut rest = Vec::new();
    for op in ops {
        match &op {
            PropPatchOp::Set(name, value) if name.is(NS_DAV, "resourcetype") => {
                for child in &value.children {
                    if child.is(NS_CALDAV, "calendar") {
                        calendar = true;
                    } else if !child.is(NS_DAV, "collection") {
                        return Err(DavError::precondition(
                            Precondition::ValidResourceType,
                            format!("cannot create a collection of type {child}"),
                        ));
                    }
                }
            }
            PropPatchOp::Set(name, value)
                if name.is(NS_CALDAV, "supported-calendar-component-set") =>
            {
                for c in &value.comp_names {
                    if ComponentKind::from_name(c).is_none() {
                        return Err(DavError::precondition(
                            Precondition::SupportedCalendarComponent,
                            format!("unsupported component {c}"),
                        ));
                    }
                    components.push(c.clone());
                }
            }
            _ => rest.push(op),
        }
    }
    let store = &ctx.app.store;
    if calendar {
        let parent = parent_path(&path).unwrap_or("");
        if let Some(p) = store.node(user, parent)?
            && p.calendar().is_some()
        {
            return Err(DavError::precondition(
                Precondition::CalendarCollectionLocationOk,
                "a calendar cannot be created inside a calendar",
            ));
        }
    }
    let mut props = Vec::new();
    for op in &rest {
        let change = to_change(op, calendar).map_err(|why| {
            DavError::precondition(Precondition::CannotModifyProtectedProperty, why)
        })?;
        props.push(change);
    }
    if components.is_empty() {
        components = DEFAULT_COMPONENTS.iter().map(|s| s.to_string()).collect();
    }
    let new = NewCollection {
        calendar: calendar.then(|| CalendarProps {
            components,
            ..CalendarProps::default()
        }),
        props,
    };
    match store.mkcol(user, &path, new).await {
        Ok(()) => Ok(empty(StatusCode::CREATED)),
        Err(StoreError::AlreadyExists) if mkcalendar => Err(DavError::precondition(
            Precondition::ResourceMustBeNull,
            "a resource already exists at this URL",
        )),
        Err(StoreError::NotAllowedHere(why)) => Err(DavError::status(StatusCode::FORBIDDEN, why)),
        Err(e) => Err(e.into()),
    }
}
