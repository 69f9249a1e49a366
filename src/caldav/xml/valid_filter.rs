//! The CALDAV:valid-filter and CALDAV:supported-filter preconditions of a
//! calendar-query (RFC 4791 sections 7.8 and 9.7): the filter starts with
//! one VCALENDAR comp-filter, components nest as iCalendar nests them,
//! time-range appears only where section 9.9 defines it and has
//! start < end, and each filter element follows its DTD (is-not-defined
//! alone; time-range or text-match, not both, in a prop-filter).

use super::names::XmlError;
use crate::ical::query::{CompFilter, Filter, PropFilter, TimeRange};

/// Components that may be named inside a comp-filter named `parent`
/// (RFC 5545 section 3.6); X- components are always allowed.
fn children_of(parent: &str) -> &'static [&'static str] {
    match parent {
        "VCALENDAR" => &["VEVENT", "VTODO", "VJOURNAL", "VFREEBUSY", "VTIMEZONE"],
        "VEVENT" | "VTODO" => &["VALARM"],
        "VTIMEZONE" => &["STANDARD", "DAYLIGHT"],
        _ => &[],
    }
}

/// Components a time-range may test (RFC 4791 section 9.9).
const TIMED: &[&str] = &["VEVENT", "VTODO", "VJOURNAL", "VFREEBUSY", "VALARM"];

fn bad(msg: impl Into<String>) -> XmlError {
    XmlError::InvalidFilter(msg.into())
}

fn check_range(tr: &TimeRange, what: &str) -> Result<(), XmlError> {
    match (tr.start, tr.end) {
        (Some(s), Some(e)) if e <= s => Err(bad(format!(
            "the time-range of {what} must end after it starts"
        ))),
        _ => Ok(()),
    }
}

/// Checks a parsed filter; the error names the precondition it breaks.
pub(super) fn check(filter: &Filter) -> Result<(), XmlError> {
    let top = &filter.comp_filter;
    if top.name != "VCALENDAR" {
        return Err(bad("the filter must start with a VCALENDAR comp-filter"));
    }
    if top.time_range.is_some() {
        return Err(bad("a time-range cannot test VCALENDAR"));
    }
    check_comp(top)
}

fn check_comp(cf: &CompFilter) -> Result<(), XmlError> {
    if cf.is_not_defined
        && (cf.time_range.is_some() || !cf.prop_filters.is_empty() || !cf.comp_filters.is_empty())
    {
        return Err(bad(format!(
            "comp-filter {} holds is-not-defined with other tests",
            cf.name
        )));
    }
    if let Some(tr) = &cf.time_range {
        if !TIMED.contains(&cf.name.as_str()) && !cf.name.starts_with("X-") {
            return Err(bad(format!("a time-range cannot test {}", cf.name)));
        }
        check_range(tr, &cf.name)?;
    }
    let allowed = children_of(&cf.name);
    for sub in &cf.comp_filters {
        if sub.name == "VCALENDAR" {
            return Err(bad("VCALENDAR can only be the outermost comp-filter"));
        }
        if !allowed.contains(&sub.name.as_str()) && !sub.name.starts_with("X-") {
            return Err(XmlError::UnsupportedFilter(format!(
                "component {} inside {}",
                sub.name, cf.name
            )));
        }
        check_comp(sub)?;
    }
    cf.prop_filters.iter().try_for_each(check_prop)
}

fn check_prop(pf: &PropFilter) -> Result<(), XmlError> {
    let tests = pf.time_range.is_some() || pf.text_match.is_some() || !pf.param_filters.is_empty();
    if pf.is_not_defined && tests {
        return Err(bad(format!(
            "prop-filter {} holds is-not-defined with other tests",
            pf.name
        )));
    }
    if pf.time_range.is_some() && pf.text_match.is_some() {
        return Err(bad(format!(
            "prop-filter {} holds both time-range and text-match",
            pf.name
        )));
    }
    if let Some(tr) = &pf.time_range {
        check_range(tr, &pf.name)?;
    }
    for p in &pf.param_filters {
        if p.is_not_defined && p.text_match.is_some() {
            return Err(bad(format!(
                "param-filter {} holds is-not-defined with text-match",
                p.name
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caldav::xml::parse_report;
    use crate::caldav::xml::report::Report;

    fn check_xml(inner: &str) -> Result<(), XmlError> {
        let body = format!(
            r#"<C:calendar-query xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:D="DAV:"><D:prop><D:getetag/></D:prop><C:filter>{inner}</C:filter></C:calendar-query>"#
        );
        match parse_report(body.as_bytes())? {
            Report::CalendarQuery { .. } => Ok(()),
            other => panic!("not a calendar-query: {other:?}"),
        }
    }

    const TR: &str = r#"<C:time-range start="20240101T000000Z" end="20240102T000000Z"/>"#;

    #[test]
    fn good_filters_pass() {
        for f in [
            r#"<C:comp-filter name="VCALENDAR"/>"#.to_string(),
            format!(
                r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">{TR}</C:comp-filter></C:comp-filter>"#
            ),
            format!(
                r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VTODO"><C:comp-filter name="VALARM">{TR}</C:comp-filter></C:comp-filter></C:comp-filter>"#
            ),
            r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:prop-filter name="UID"><C:text-match>x</C:text-match><C:param-filter name="X"><C:is-not-defined/></C:param-filter></C:prop-filter></C:comp-filter></C:comp-filter>"#.to_string(),
            r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="X-THING"/></C:comp-filter>"#.to_string(),
        ] {
            assert_eq!(check_xml(&f), Ok(()), "{f}");
        }
    }

    #[test]
    fn invalid_filters_name_valid_filter() {
        let cases = [
            format!(r#"<C:comp-filter name="VEVENT">{TR}</C:comp-filter>"#),
            format!(r#"<C:comp-filter name="VCALENDAR">{TR}</C:comp-filter>"#),
            r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VCALENDAR"/></C:comp-filter>"#.to_string(),
            r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="20240102T000000Z" end="20240102T000000Z"/></C:comp-filter></C:comp-filter>"#.to_string(),
            r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="20240102T000000"/></C:comp-filter></C:comp-filter>"#.to_string(),
            format!(
                r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VTIMEZONE">{TR}</C:comp-filter></C:comp-filter>"#
            ),
            format!(
                r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:is-not-defined/>{TR}</C:comp-filter></C:comp-filter>"#
            ),
            format!(
                r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:prop-filter name="DTSTART">{TR}<C:text-match>x</C:text-match></C:prop-filter></C:comp-filter></C:comp-filter>"#
            ),
            r#"<C:comp-filter name="VCALENDAR"/><C:comp-filter name="VCALENDAR"/>"#.to_string(),
        ];
        for f in cases {
            assert!(
                matches!(check_xml(&f), Err(XmlError::InvalidFilter(_))),
                "{f}: {:?}",
                check_xml(&f)
            );
        }
    }

    #[test]
    fn unknown_components_name_supported_filter() {
        let f = r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:comp-filter name="VTODO"/></C:comp-filter></C:comp-filter>"#;
        assert!(matches!(check_xml(f), Err(XmlError::UnsupportedFilter(_))));
        let f = r#"<C:comp-filter name="VCALENDAR"><C:comp-filter name="VPOLL"/></C:comp-filter>"#;
        assert!(matches!(check_xml(f), Err(XmlError::UnsupportedFilter(_))));
    }
}
