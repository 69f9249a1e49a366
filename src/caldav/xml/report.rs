//! REPORT bodies: the CalDAV reports (calendar-query, calendar-multiget,
//! free-busy-query; RFC 4791 7.8-7.10 and 9.5-9.10), sync-collection
//! (RFC 6578), expand-property (RFC 3253 3.8) and the ACL principal reports
//! (RFC 3744 9). Builds the `crate::ical::query` shapes for filters and
//! CALDAV:calendar-data selections.

use chrono::{DateTime, NaiveDate, Utc};

use super::names::{NS_CALDAV, NS_DAV, QName, XmlError};
use super::reader::{Element, parse_document};
use super::request::{PropFind, prop_names, propfind_of};
use crate::ical::query::{
    CalendarDataSpec, Collation, CompFilter, CompSelect, Filter, ParamFilter, PropFilter,
    TextMatch, TimeRange,
};

/// The property part of a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportProps {
    /// DAV:prop / DAV:allprop / DAV:propname. A report without any of them
    /// asks for no properties: `PropFind::Prop(vec![])`.
    pub propfind: PropFind,
    /// The CALDAV:calendar-data selection when CALDAV:calendar-data is among
    /// the requested properties (it is then also listed in `propfind`).
    pub calendar_data: Option<CalendarDataSpec>,
}

/// A parsed REPORT request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    CalendarQuery {
        props: ReportProps,
        filter: Filter,
        /// CALDAV:timezone text (a VCALENDAR holding one VTIMEZONE).
        timezone: Option<String>,
        /// CALDAV:timezone-id (RFC 7809).
        timezone_id: Option<String>,
    },
    CalendarMultiget {
        props: ReportProps,
        /// DAV:href values as sent (whitespace trimmed, not percent-decoded).
        hrefs: Vec<String>,
    },
    FreeBusyQuery {
        range: TimeRange,
    },
    SyncCollection {
        /// Empty for the initial synchronization.
        token: String,
        /// "1" or "infinite".
        level: String,
        /// DAV:limit/DAV:nresults.
        limit: Option<u32>,
        props: ReportProps,
    },
    ExpandProperty {
        /// Each property to expand with the properties requested on the
        /// resources it points to (one level).
        props: Vec<(QName, Vec<QName>)>,
    },
    PrincipalPropertySearch {
        /// (properties searched, match text) per DAV:property-search.
        matches: Vec<(Vec<QName>, String)>,
        props: Vec<QName>,
        /// `test="anyof"` (default allof).
        test_any: bool,
    },
    PrincipalSearchPropertySet,
    PrincipalMatch {
        props: Vec<QName>,
    },
    AclPrincipalPropSet {
        props: Vec<QName>,
    },
    /// A report this module does not know; the caller answers
    /// DAV:supported-report.
    Unknown(QName),
}

fn invalid(msg: impl Into<String>) -> XmlError {
    XmlError::Invalid(msg.into())
}

/// Parses a REPORT body.
pub fn parse_report(body: &[u8]) -> Result<Report, XmlError> {
    let root = parse_document(body)?
        .ok_or_else(|| XmlError::Malformed("REPORT needs a request body".into()))?;
    let name = root.name.name.as_str();
    match root.name.ns.as_str() {
        NS_CALDAV => match name {
            "calendar-query" => calendar_query(&root),
            "calendar-multiget" => calendar_multiget(&root),
            "free-busy-query" => {
                let tr = root
                    .child(NS_CALDAV, "time-range")
                    .ok_or_else(|| invalid("CALDAV:free-busy-query needs a CALDAV:time-range"))?;
                Ok(Report::FreeBusyQuery {
                    range: time_range(tr, false)?,
                })
            }
            _ => Ok(Report::Unknown(root.name.clone())),
        },
        NS_DAV => match name {
            "sync-collection" => sync_collection(&root),
            "expand-property" => Ok(Report::ExpandProperty {
                props: expand_property(&root)?,
            }),
            "principal-property-search" => principal_property_search(&root),
            "principal-search-property-set" => Ok(Report::PrincipalSearchPropertySet),
            "principal-match" => Ok(Report::PrincipalMatch {
                props: dav_prop_names(&root),
            }),
            "acl-principal-prop-set" => Ok(Report::AclPrincipalPropSet {
                props: dav_prop_names(&root),
            }),
            _ => Ok(Report::Unknown(root.name.clone())),
        },
        _ => Ok(Report::Unknown(root.name.clone())),
    }
}

/// The names inside the DAV:prop child of `el` (empty without one).
fn dav_prop_names(el: &Element) -> Vec<QName> {
    el.child(NS_DAV, "prop").map(prop_names).unwrap_or_default()
}

fn report_props(el: &Element) -> Result<ReportProps, XmlError> {
    let propfind = propfind_of(el).unwrap_or(PropFind::Prop(Vec::new()));
    let calendar_data = match &propfind {
        PropFind::Prop(_) => el
            .child(NS_DAV, "prop")
            .and_then(|p| p.child(NS_CALDAV, "calendar-data"))
            .map(calendar_data)
            .transpose()?,
        _ => None,
    };
    Ok(ReportProps {
        propfind,
        calendar_data,
    })
}

fn calendar_query(root: &Element) -> Result<Report, XmlError> {
    let props = report_props(root)?;
    let filter = root.child(NS_CALDAV, "filter").ok_or_else(|| {
        XmlError::InvalidFilter("CALDAV:calendar-query needs a CALDAV:filter".into())
    })?;
    // Grammar errors inside the filter are CALDAV:valid-filter (RFC 4791 7.8).
    let filter = parse_filter(filter).map_err(|e| match e {
        XmlError::Invalid(why) => XmlError::InvalidFilter(why),
        other => other,
    })?;
    super::valid_filter::check(&filter)?;
    let timezone = root.child(NS_CALDAV, "timezone").map(|t| t.text());
    let timezone_id = root
        .child(NS_CALDAV, "timezone-id")
        .map(|t| t.text().trim().to_string());
    Ok(Report::CalendarQuery {
        props,
        filter,
        timezone,
        timezone_id,
    })
}

fn calendar_multiget(root: &Element) -> Result<Report, XmlError> {
    let props = report_props(root)?;
    let hrefs: Vec<String> = root
        .children_named(NS_DAV, "href")
        .map(|h| h.text().trim().to_string())
        .collect();
    if hrefs.is_empty() {
        return Err(invalid(
            "CALDAV:calendar-multiget needs at least one DAV:href",
        ));
    }
    if hrefs.iter().any(String::is_empty) {
        return Err(invalid("empty DAV:href in CALDAV:calendar-multiget"));
    }
    Ok(Report::CalendarMultiget { props, hrefs })
}

fn sync_collection(root: &Element) -> Result<Report, XmlError> {
    let token = root
        .child(NS_DAV, "sync-token")
        .map(|t| t.text().trim().to_string())
        .unwrap_or_default();
    let level = match root.child(NS_DAV, "sync-level") {
        // Clients written before RFC 6578 was final omit it; depth 1 is
        // what they mean.
        None => "1".to_string(),
        Some(l) => {
            let mut l = l.text().trim().to_ascii_lowercase();
            // "infinity" (the Depth header's word) is taken for "infinite".
            if l == "infinity" {
                l = "infinite".into();
            }
            if l != "1" && l != "infinite" {
                return Err(invalid(format!(
                    "DAV:sync-level must be 1 or infinite, not {l:?}"
                )));
            }
            l
        }
    };
    let limit = match root
        .child(NS_DAV, "limit")
        .and_then(|l| l.child(NS_DAV, "nresults"))
    {
        None => None,
        Some(n) => {
            let text = n.text();
            let n = text
                .trim()
                .parse::<u32>()
                .map_err(|_| invalid(format!("DAV:nresults is not a number: {:?}", text.trim())))?;
            Some(n)
        }
    };
    Ok(Report::SyncCollection {
        token,
        level,
        limit,
        props: report_props(root)?,
    })
}

/// A DAV:property element of expand-property: `name` and `namespace`
/// attributes (namespace defaults to DAV:).
fn expand_name(el: &Element) -> Result<QName, XmlError> {
    let name = el
        .attr("name")
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| invalid("DAV:property in DAV:expand-property needs a name attribute"))?;
    let ns = el.attr("namespace").unwrap_or(NS_DAV).trim();
    Ok(QName::new(ns, name))
}

fn expand_property(root: &Element) -> Result<Vec<(QName, Vec<QName>)>, XmlError> {
    root.children_named(NS_DAV, "property")
        .map(|p| {
            let nested = p
                .children_named(NS_DAV, "property")
                .map(expand_name)
                .collect::<Result<Vec<_>, _>>()?;
            Ok((expand_name(p)?, nested))
        })
        .collect()
}

fn principal_property_search(root: &Element) -> Result<Report, XmlError> {
    let test_any = match root.attr("test").map(str::trim) {
        None | Some("allof") => false,
        Some("anyof") => true,
        Some(other) => {
            return Err(invalid(format!(
                "test must be anyof or allof, not {other:?}"
            )));
        }
    };
    let mut matches = Vec::new();
    for search in root.children_named(NS_DAV, "property-search") {
        let props = dav_prop_names(search);
        let text = search
            .child(NS_DAV, "match")
            .map(|m| m.text().trim().to_string())
            .ok_or_else(|| invalid("DAV:property-search needs a DAV:match"))?;
        if props.is_empty() {
            return Err(invalid("DAV:property-search needs a DAV:prop"));
        }
        matches.push((props, text));
    }
    Ok(Report::PrincipalPropertySearch {
        matches,
        props: dav_prop_names(root),
        test_any,
    })
}

// ---------------------------------------------------------------------------
// CALDAV:filter (RFC 4791 9.7)

fn required_name(el: &Element) -> Result<String, XmlError> {
    match el.attr("name").map(str::trim) {
        Some(n) if !n.is_empty() => Ok(n.to_ascii_uppercase()),
        _ => Err(invalid(format!(
            "CALDAV:{} needs a name attribute",
            el.name.name
        ))),
    }
}

fn parse_filter(el: &Element) -> Result<Filter, XmlError> {
    let mut comps = el.children_named(NS_CALDAV, "comp-filter");
    let first = comps
        .next()
        .ok_or_else(|| invalid("CALDAV:filter needs one CALDAV:comp-filter"))?;
    if comps.next().is_some() {
        return Err(invalid(
            "CALDAV:filter holds exactly one CALDAV:comp-filter",
        ));
    }
    Ok(Filter {
        comp_filter: comp_filter(first)?,
    })
}

fn comp_filter(el: &Element) -> Result<CompFilter, XmlError> {
    Ok(CompFilter {
        name: required_name(el)?,
        is_not_defined: el.child(NS_CALDAV, "is-not-defined").is_some(),
        time_range: el
            .child(NS_CALDAV, "time-range")
            .map(|t| time_range(t, false))
            .transpose()?,
        prop_filters: el
            .children_named(NS_CALDAV, "prop-filter")
            .map(prop_filter)
            .collect::<Result<_, _>>()?,
        comp_filters: el
            .children_named(NS_CALDAV, "comp-filter")
            .map(comp_filter)
            .collect::<Result<_, _>>()?,
    })
}

fn prop_filter(el: &Element) -> Result<PropFilter, XmlError> {
    Ok(PropFilter {
        name: required_name(el)?,
        is_not_defined: el.child(NS_CALDAV, "is-not-defined").is_some(),
        time_range: el
            .child(NS_CALDAV, "time-range")
            .map(|t| time_range(t, false))
            .transpose()?,
        text_match: el
            .child(NS_CALDAV, "text-match")
            .map(text_match)
            .transpose()?,
        param_filters: el
            .children_named(NS_CALDAV, "param-filter")
            .map(param_filter)
            .collect::<Result<_, _>>()?,
    })
}

fn param_filter(el: &Element) -> Result<ParamFilter, XmlError> {
    Ok(ParamFilter {
        name: required_name(el)?,
        is_not_defined: el.child(NS_CALDAV, "is-not-defined").is_some(),
        text_match: el
            .child(NS_CALDAV, "text-match")
            .map(text_match)
            .transpose()?,
    })
}

fn text_match(el: &Element) -> Result<TextMatch, XmlError> {
    let collation = match el.attr("collation").map(str::trim) {
        None | Some("i;ascii-casemap") => Collation::AsciiCasemap,
        Some("i;octet") => Collation::Octet,
        Some("i;unicode-casemap") => Collation::UnicodeCasemap,
        Some(other) => return Err(XmlError::UnsupportedCollation(other.to_string())),
    };
    let negate = match el.attr("negate-condition").map(str::trim) {
        None | Some("no") => false,
        Some("yes") => true,
        Some(other) => {
            return Err(invalid(format!(
                "negate-condition must be yes or no, not {other:?}"
            )));
        }
    };
    Ok(TextMatch {
        text: el.text(),
        collation,
        negate,
    })
}

/// Reads the `start`/`end` attributes of a time-range-like element. With
/// `both`, both are required (CALDAV:expand and the limit-* elements);
/// otherwise at least one.
fn time_range(el: &Element, both: bool) -> Result<TimeRange, XmlError> {
    let what = &el.name.name;
    let start = el
        .attr("start")
        .map(|v| parse_utc("start", what, v))
        .transpose()?;
    let end = el
        .attr("end")
        .map(|v| parse_utc("end", what, v))
        .transpose()?;
    if both && (start.is_none() || end.is_none()) {
        return Err(invalid(format!(
            "CALDAV:{what} needs both start and end attributes"
        )));
    }
    if start.is_none() && end.is_none() {
        return Err(invalid(format!(
            "CALDAV:{what} needs a start or an end attribute"
        )));
    }
    Ok(TimeRange { start, end })
}

/// Parses an iCalendar "date with UTC time", `YYYYMMDDTHHMMSSZ`.
fn parse_utc(attr: &str, element: &str, value: &str) -> Result<DateTime<Utc>, XmlError> {
    let bad = || {
        invalid(format!(
            "attribute {attr} of CALDAV:{element} must be a UTC date-time like \
             20060104T000000Z, not {value:?}"
        ))
    };
    let v = value.trim();
    let b = v.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return Err(bad());
    }
    let digits = |r: std::ops::Range<usize>| -> Result<u32, XmlError> {
        let s = v.get(r).ok_or_else(bad)?;
        if !s.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        s.parse::<u32>().map_err(|_| bad())
    };
    let year = i32::try_from(digits(0..4)?).map_err(|_| bad())?;
    let date = NaiveDate::from_ymd_opt(year, digits(4..6)?, digits(6..8)?).ok_or_else(bad)?;
    let time = date
        .and_hms_opt(digits(9..11)?, digits(11..13)?, digits(13..15)?)
        .ok_or_else(bad)?;
    Ok(time.and_utc())
}

// ---------------------------------------------------------------------------
// CALDAV:calendar-data (RFC 4791 9.6)

fn calendar_data(el: &Element) -> Result<CalendarDataSpec, XmlError> {
    // RFC 4791 section 9.6: text/calendar, version 2.0, are the defaults
    // and the only media type served (CALDAV:supported-calendar-data).
    let media = el
        .attr("content-type")
        .map(str::trim)
        .unwrap_or("text/calendar");
    let version = el.attr("version").map(str::trim).unwrap_or("2.0");
    let base = media.split(';').next().unwrap_or_default().trim();
    if !base.eq_ignore_ascii_case("text/calendar") || version != "2.0" {
        return Err(XmlError::UnsupportedCalendarData(format!(
            "content-type {media:?} version {version:?} (only text/calendar 2.0)"
        )));
    }
    let range = |name: &str| {
        el.child(NS_CALDAV, name)
            .map(|t| time_range(t, true))
            .transpose()
    };
    Ok(CalendarDataSpec {
        comp: el.child(NS_CALDAV, "comp").map(comp_select).transpose()?,
        expand: range("expand")?,
        limit_recurrence_set: range("limit-recurrence-set")?,
        limit_freebusy_set: range("limit-freebusy-set")?,
    })
}

fn comp_select(el: &Element) -> Result<CompSelect, XmlError> {
    let props: Vec<String> = el
        .children_named(NS_CALDAV, "prop")
        .map(required_name)
        .collect::<Result<_, _>>()?;
    let comps: Vec<CompSelect> = el
        .children_named(NS_CALDAV, "comp")
        .map(comp_select)
        .collect::<Result<_, _>>()?;
    Ok(CompSelect {
        name: required_name(el)?,
        all_props: el.child(NS_CALDAV, "allprop").is_some() || props.is_empty(),
        props,
        all_comps: el.child(NS_CALDAV, "allcomp").is_some() || comps.is_empty(),
        comps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    const QUERY: &str = r#"<?xml version="1.0" encoding="utf-8" ?>
<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:prop>
    <D:getetag/>
    <C:calendar-data>
      <C:comp name="VCALENDAR">
        <C:prop name="VERSION"/>
        <C:comp name="VEVENT">
          <C:prop name="SUMMARY"/>
          <C:prop name="uid"/>
          <C:prop name="DTSTART"/>
        </C:comp>
        <C:comp name="VTIMEZONE"/>
      </C:comp>
      <C:expand start="20060103T000000Z" end="20060105T000000Z"/>
    </C:calendar-data>
  </D:prop>
  <C:filter>
    <C:comp-filter name="VCALENDAR">
      <C:comp-filter name="vevent">
        <C:time-range start="20060104T000000Z" end="20060105T000000Z"/>
        <C:prop-filter name="SUMMARY">
          <C:text-match collation="i;octet" negate-condition="yes">meeting</C:text-match>
        </C:prop-filter>
        <C:prop-filter name="ATTENDEE">
          <C:param-filter name="partstat">
            <C:text-match>NEEDS-ACTION</C:text-match>
          </C:param-filter>
        </C:prop-filter>
        <C:prop-filter name="X-ABC-GUID"><C:is-not-defined/></C:prop-filter>
        <C:comp-filter name="VALARM"><C:is-not-defined/></C:comp-filter>
        <X:unknown xmlns:X="urn:x">ignored</X:unknown>
      </C:comp-filter>
    </C:comp-filter>
  </C:filter>
  <C:timezone-id> America/New_York </C:timezone-id>
</C:calendar-query>"#;

    #[test]
    fn calendar_query_full() {
        let Report::CalendarQuery {
            props,
            filter,
            timezone,
            timezone_id,
        } = parse_report(QUERY.as_bytes()).unwrap()
        else {
            panic!("not a calendar-query");
        };
        assert_eq!(
            props.propfind,
            PropFind::Prop(vec![QName::dav("getetag"), QName::caldav("calendar-data")])
        );
        let cd = props.calendar_data.unwrap();
        assert_eq!(
            cd.expand,
            Some(TimeRange {
                start: Some(utc(2006, 1, 3, 0, 0, 0)),
                end: Some(utc(2006, 1, 5, 0, 0, 0)),
            })
        );
        assert_eq!(cd.limit_recurrence_set, None);
        let comp = cd.comp.unwrap();
        assert_eq!(comp.name, "VCALENDAR");
        assert!(!comp.all_props);
        assert_eq!(comp.props, vec!["VERSION"]);
        assert!(!comp.all_comps);
        assert_eq!(comp.comps.len(), 2);
        assert_eq!(comp.comps[0].name, "VEVENT");
        assert_eq!(comp.comps[0].props, vec!["SUMMARY", "UID", "DTSTART"]);
        assert!(comp.comps[0].all_comps);
        assert_eq!(comp.comps[1].name, "VTIMEZONE");
        assert!(comp.comps[1].all_props);

        assert_eq!(timezone, None);
        assert_eq!(timezone_id.as_deref(), Some("America/New_York"));

        let top = filter.comp_filter;
        assert_eq!(top.name, "VCALENDAR");
        assert_eq!(top.comp_filters.len(), 1);
        let ev = &top.comp_filters[0];
        assert_eq!(ev.name, "VEVENT");
        assert_eq!(
            ev.time_range,
            Some(TimeRange {
                start: Some(utc(2006, 1, 4, 0, 0, 0)),
                end: Some(utc(2006, 1, 5, 0, 0, 0)),
            })
        );
        assert_eq!(ev.prop_filters.len(), 3);
        assert_eq!(
            ev.prop_filters[0].text_match,
            Some(TextMatch {
                text: "meeting".into(),
                collation: Collation::Octet,
                negate: true,
            })
        );
        let att = &ev.prop_filters[1];
        assert_eq!(att.param_filters[0].name, "PARTSTAT");
        assert_eq!(
            att.param_filters[0].text_match,
            Some(TextMatch {
                text: "NEEDS-ACTION".into(),
                collation: Collation::AsciiCasemap,
                negate: false,
            })
        );
        assert!(ev.prop_filters[2].is_not_defined);
        assert_eq!(ev.prop_filters[2].name, "X-ABC-GUID");
        assert_eq!(ev.comp_filters[0].name, "VALARM");
        assert!(ev.comp_filters[0].is_not_defined);
    }

    #[test]
    fn calendar_query_with_timezone_and_open_range() {
        let body = br#"<C:calendar-query xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:D="DAV:">
  <D:allprop/>
  <C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VTODO">
    <C:time-range start="20060106T100000Z"/>
  </C:comp-filter></C:comp-filter></C:filter>
  <C:timezone>BEGIN:VCALENDAR&#13;
END:VCALENDAR&#13;
</C:timezone>
</C:calendar-query>"#;
        let Report::CalendarQuery {
            props,
            filter,
            timezone,
            ..
        } = parse_report(body).unwrap()
        else {
            panic!("not a calendar-query");
        };
        assert_eq!(props.propfind, PropFind::AllProp { include: vec![] });
        assert_eq!(props.calendar_data, None);
        assert_eq!(
            timezone.as_deref(),
            Some("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")
        );
        let tr = filter.comp_filter.comp_filters[0].time_range.unwrap();
        assert_eq!(tr.start, Some(utc(2006, 1, 6, 10, 0, 0)));
        assert_eq!(tr.end, None);
    }

    fn query_with(filter: &str) -> Result<Report, XmlError> {
        let body = format!(
            r#"<C:calendar-query xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:D="DAV:"><D:prop><D:getetag/></D:prop>{filter}</C:calendar-query>"#
        );
        parse_report(body.as_bytes())
    }

    #[test]
    fn calendar_query_refusals() {
        assert!(
            matches!(query_with(""), Err(XmlError::InvalidFilter(m)) if m.contains("CALDAV:filter"))
        );
        assert!(matches!(
            query_with("<C:filter/>"),
            Err(XmlError::InvalidFilter(_))
        ));
        assert!(matches!(
            query_with(r#"<C:filter><C:comp-filter/></C:filter>"#),
            Err(XmlError::InvalidFilter(m)) if m.contains("name")
        ));
        assert!(matches!(
            query_with(
                r#"<C:filter><C:comp-filter name="VCALENDAR"/><C:comp-filter name="VCALENDAR"/></C:filter>"#
            ),
            Err(XmlError::InvalidFilter(_))
        ));
        for tr in [
            r#"<C:time-range/>"#,
            r#"<C:time-range start="20060104T000000"/>"#,
            r#"<C:time-range start="20060104"/>"#,
            r#"<C:time-range start="2006-01-04T00:00:00Z"/>"#,
            r#"<C:time-range start="20061304T000000Z"/>"#,
            r#"<C:time-range end="20060104T250000Z"/>"#,
            r#"<C:time-range end="2006010+T000000Z"/>"#,
            r#"<C:time-range end="２００6010T000000Z"/>"#,
        ] {
            let f = format!(
                r#"<C:filter><C:comp-filter name="VCALENDAR">{tr}</C:comp-filter></C:filter>"#
            );
            let r = query_with(&f);
            assert!(matches!(r, Err(XmlError::InvalidFilter(_))), "{tr}: {r:?}");
        }
        let r = query_with(
            r#"<C:filter><C:comp-filter name="VCALENDAR"><C:time-range start="20060104T000000+0100"/></C:comp-filter></C:filter>"#,
        );
        assert!(matches!(r, Err(XmlError::InvalidFilter(m)) if m.contains("start")));
        let r = query_with(
            r#"<C:filter><C:comp-filter name="VCALENDAR"><C:prop-filter name="UID"><C:text-match collation="i;klingon">x</C:text-match></C:prop-filter></C:comp-filter></C:filter>"#,
        );
        assert_eq!(r, Err(XmlError::UnsupportedCollation("i;klingon".into())));
        let r = query_with(
            r#"<C:filter><C:comp-filter name="VCALENDAR"><C:prop-filter name="UID"><C:text-match negate-condition="maybe">x</C:text-match></C:prop-filter></C:comp-filter></C:filter>"#,
        );
        assert!(matches!(r, Err(XmlError::InvalidFilter(_))));
        // calendar-data expand needs both bounds.
        let body = br#"<C:calendar-query xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:D="DAV:"><D:prop><C:calendar-data><C:expand start="20060103T000000Z"/></C:calendar-data></D:prop><C:filter><C:comp-filter name="VCALENDAR"/></C:filter></C:calendar-query>"#;
        assert!(matches!(parse_report(body), Err(XmlError::Invalid(m)) if m.contains("expand")));
        // RFC 4791 section 9.6: only text/calendar 2.0.
        for attrs in [
            r#"content-type="application/calendar+json""#,
            r#"version="3.0""#,
        ] {
            let body = format!(
                r#"<C:calendar-query xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:D="DAV:"><D:prop><C:calendar-data {attrs}/></D:prop><C:filter><C:comp-filter name="VCALENDAR"/></C:filter></C:calendar-query>"#
            );
            let r = parse_report(body.as_bytes());
            assert!(
                matches!(r, Err(XmlError::UnsupportedCalendarData(_))),
                "{attrs}: {r:?}"
            );
        }
        let ok = br#"<C:calendar-query xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:D="DAV:"><D:prop><C:calendar-data content-type="text/calendar" version="2.0"/></D:prop><C:filter><C:comp-filter name="VCALENDAR"/></C:filter></C:calendar-query>"#;
        assert!(parse_report(ok).is_ok());
    }

    #[test]
    fn calendar_multiget_hrefs() {
        let body = br#"<?xml version="1.0" encoding="utf-8" ?>
<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:prop><D:getetag/><C:calendar-data/></D:prop>
  <D:href>/bernard/work/abcd1.ics</D:href>
  <D:href>
    /bernard/work/a%20b.ics
  </D:href>
  <D:href>/bernard/work/x&amp;y.ics</D:href>
</C:calendar-multiget>"#;
        let Report::CalendarMultiget { props, hrefs } = parse_report(body).unwrap() else {
            panic!("not a multiget");
        };
        assert_eq!(
            hrefs,
            vec![
                "/bernard/work/abcd1.ics",
                "/bernard/work/a%20b.ics",
                "/bernard/work/x&y.ics"
            ]
        );
        assert_eq!(props.calendar_data, Some(CalendarDataSpec::default()));
        assert!(matches!(
            parse_report(br#"<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop/></C:calendar-multiget>"#),
            Err(XmlError::Invalid(_))
        ));
    }

    #[test]
    fn free_busy_query() {
        let body = br#"<C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav">
  <C:time-range start="20060104T140000Z" end="20060105T220000Z"/>
</C:free-busy-query>"#;
        assert_eq!(
            parse_report(body).unwrap(),
            Report::FreeBusyQuery {
                range: TimeRange {
                    start: Some(utc(2006, 1, 4, 14, 0, 0)),
                    end: Some(utc(2006, 1, 5, 22, 0, 0)),
                }
            }
        );
        assert!(matches!(
            parse_report(br#"<C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav"/>"#),
            Err(XmlError::Invalid(_))
        ));
    }

    #[test]
    fn sync_collection() {
        let body = br#"<?xml version="1.0" encoding="utf-8" ?>
<D:sync-collection xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:sync-token>http://example.com/ns/sync/1234</D:sync-token>
  <D:sync-level>1</D:sync-level>
  <D:limit><D:nresults>100</D:nresults></D:limit>
  <D:prop><D:getetag/><C:calendar-data/></D:prop>
</D:sync-collection>"#;
        let Report::SyncCollection {
            token,
            level,
            limit,
            props,
        } = parse_report(body).unwrap()
        else {
            panic!("not sync-collection");
        };
        assert_eq!(token, "http://example.com/ns/sync/1234");
        assert_eq!(level, "1");
        assert_eq!(limit, Some(100));
        assert_eq!(
            props.propfind,
            PropFind::Prop(vec![QName::dav("getetag"), QName::caldav("calendar-data")])
        );

        let initial = br#"<sync-collection xmlns="DAV:"><sync-token/><sync-level>infinite</sync-level><prop><getetag/></prop></sync-collection>"#;
        let Report::SyncCollection {
            token,
            level,
            limit,
            ..
        } = parse_report(initial).unwrap()
        else {
            panic!("not sync-collection");
        };
        assert_eq!(
            (token.as_str(), level.as_str(), limit),
            ("", "infinite", None)
        );

        assert!(matches!(
            parse_report(br#"<sync-collection xmlns="DAV:"><sync-token/><sync-level>2</sync-level></sync-collection>"#),
            Err(XmlError::Invalid(_))
        ));
        assert!(matches!(
            parse_report(br#"<sync-collection xmlns="DAV:"><sync-token/><sync-level>1</sync-level><limit><nresults>-3</nresults></limit></sync-collection>"#),
            Err(XmlError::Invalid(_))
        ));
    }

    #[test]
    fn acl_and_expand_reports() {
        let body = br#"<D:expand-property xmlns:D="DAV:">
  <D:property name="calendar-proxy-read-for" namespace="http://calendarserver.org/ns/">
    <D:property name="displayname"/>
    <D:property name="calendar-user-address-set" namespace="urn:ietf:params:xml:ns:caldav"/>
  </D:property>
</D:expand-property>"#;
        assert_eq!(
            parse_report(body).unwrap(),
            Report::ExpandProperty {
                props: vec![(
                    QName::new("http://calendarserver.org/ns/", "calendar-proxy-read-for"),
                    vec![
                        QName::dav("displayname"),
                        QName::caldav("calendar-user-address-set")
                    ]
                )]
            }
        );
        assert!(matches!(
            parse_report(br#"<D:expand-property xmlns:D="DAV:"><D:property/></D:expand-property>"#),
            Err(XmlError::Invalid(_))
        ));

        let body = br#"<D:principal-property-search xmlns:D="DAV:" test="anyof">
  <D:property-search><D:prop><D:displayname/></D:prop><D:match> doE </D:match></D:property-search>
  <D:property-search><D:prop><C:calendar-user-address-set xmlns:C="urn:ietf:params:xml:ns:caldav"/></D:prop><D:match>mailto:</D:match></D:property-search>
  <D:prop><D:displayname/></D:prop>
</D:principal-property-search>"#;
        assert_eq!(
            parse_report(body).unwrap(),
            Report::PrincipalPropertySearch {
                matches: vec![
                    (vec![QName::dav("displayname")], "doE".into()),
                    (
                        vec![QName::caldav("calendar-user-address-set")],
                        "mailto:".into()
                    ),
                ],
                props: vec![QName::dav("displayname")],
                test_any: true,
            }
        );
        assert_eq!(
            parse_report(br#"<principal-search-property-set xmlns="DAV:"/>"#).unwrap(),
            Report::PrincipalSearchPropertySet
        );
        assert_eq!(
            parse_report(br#"<D:principal-match xmlns:D="DAV:"><D:self/><D:prop><D:displayname/></D:prop></D:principal-match>"#).unwrap(),
            Report::PrincipalMatch { props: vec![QName::dav("displayname")] }
        );
        assert_eq!(
            parse_report(br#"<D:acl-principal-prop-set xmlns:D="DAV:"><D:prop><D:displayname/></D:prop></D:acl-principal-prop-set>"#).unwrap(),
            Report::AclPrincipalPropSet { props: vec![QName::dav("displayname")] }
        );
    }

    #[test]
    fn truncated_and_mangled_bodies_never_panic() {
        let bytes = QUERY.as_bytes();
        for cut in 0..bytes.len() {
            let _ = parse_report(&bytes[..cut]);
            let mut mangled = bytes.to_vec();
            mangled[cut] = b'<';
            let _ = parse_report(&mangled);
            mangled[cut] = 0xC3;
            let _ = parse_report(&mangled);
        }
    }

    #[test]
    fn unknown_and_empty_reports() {
        assert_eq!(
            parse_report(br#"<x:foo-report xmlns:x="urn:x"/>"#).unwrap(),
            Report::Unknown(QName::new("urn:x", "foo-report"))
        );
        assert_eq!(
            parse_report(br#"<D:version-tree xmlns:D="DAV:"/>"#).unwrap(),
            Report::Unknown(QName::dav("version-tree"))
        );
        assert_eq!(
            parse_report(br#"<C:calendar-other xmlns:C="urn:ietf:params:xml:ns:caldav"/>"#)
                .unwrap(),
            Report::Unknown(QName::caldav("calendar-other"))
        );
        assert!(matches!(parse_report(b""), Err(XmlError::Malformed(_))));
        assert!(matches!(parse_report(b"<a"), Err(XmlError::Malformed(_))));
    }
}
