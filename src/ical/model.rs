//! The iCalendar syntax tree (RFC 5545 section 3.1 and 3.4): unfolding of
//! content lines, splitting them into name, parameters and value, nesting
//! BEGIN/END into components, and writing components back out with CRLF
//! line endings folded at 75 octets. Property lines are kept as read
//! (unfolded) so that copying a property never loses anything; a property
//! changed through the helpers in `edit` gets its line re-rendered.
//! Trees borrow from the parsed text or, after `into_owned`, own everything.

use super::IcalError;
use std::borrow::Cow;

/// One content line: `name *(";" param) ":" value`.
#[derive(Debug, Clone)]
pub(crate) struct Prop<'a> {
    /// Upper-cased property name.
    pub name: String,
    /// Parameters in order; names upper-cased, values unquoted.
    pub params: Vec<(String, Vec<String>)>,
    /// Raw (still escaped) value.
    pub value: Cow<'a, str>,
    /// The whole logical line as read, unfolded, without line terminator;
    /// re-rendered from the parts by every change made through `edit`.
    pub line: Cow<'a, str>,
    /// 1-based line number of the first physical line (0 when not read).
    pub lineno: usize,
}

impl Prop<'_> {
    /// A copy that owns all its text.
    pub fn into_owned(self) -> Prop<'static> {
        Prop {
            name: self.name,
            params: self.params,
            value: Cow::Owned(self.value.into_owned()),
            line: Cow::Owned(self.line.into_owned()),
            lineno: self.lineno,
        }
    }

    /// First value of parameter `name` (upper case).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.first())
            .map(String::as_str)
    }
}

/// A component with its properties and sub-components.
#[derive(Debug, Clone)]
pub(crate) struct Comp<'a> {
    /// Upper-cased component name.
    pub name: String,
    pub props: Vec<Prop<'a>>,
    pub comps: Vec<Comp<'a>>,
    /// Line number of BEGIN.
    pub lineno: usize,
}

impl<'a> Comp<'a> {
    pub fn prop(&self, name: &str) -> Option<&Prop<'a>> {
        self.props.iter().find(|p| p.name == name)
    }
    pub fn props_named<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s Prop<'a>> + 's {
        self.props.iter().filter(move |p| p.name == name)
    }
    /// Unescaped text value of the first property `name`.
    pub fn text(&self, name: &str) -> Option<String> {
        self.prop(name).map(|p| unescape(&p.value))
    }
    /// A copy that owns all its text.
    pub fn into_owned(self) -> Comp<'static> {
        Comp {
            name: self.name,
            props: self.props.into_iter().map(Prop::into_owned).collect(),
            comps: self.comps.into_iter().map(Comp::into_owned).collect(),
            lineno: self.lineno,
        }
    }
}

/// Logical (unfolded) lines with the line number of their first physical line.
fn logical_lines(text: &str) -> Vec<(usize, Cow<'_, str>)> {
    let mut out: Vec<(usize, Cow<'_, str>)> = Vec::new();
    for (i, raw) in text.split('\n').enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some(rest) = line.strip_prefix([' ', '\t'])
            && let Some((_, last)) = out.last_mut()
        {
            last.to_mut().push_str(rest);
            continue;
        }
        if line.trim().is_empty() {
            continue;
        }
        out.push((i + 1, Cow::Borrowed(line)));
    }
    out
}

fn err(lineno: usize, message: impl Into<String>) -> IcalError {
    IcalError::Invalid {
        line: lineno,
        message: message.into(),
    }
}

fn valid_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Split one logical line into a property.
fn parse_line(lineno: usize, line: Cow<'_, str>) -> Result<Prop<'_>, IcalError> {
    let s: &str = &line;
    let name_end = s
        .find([';', ':'])
        .ok_or_else(|| err(lineno, "content line has no ':' separator"))?;
    let name = &s[..name_end];
    if !valid_name(name) {
        return Err(err(lineno, format!("invalid property name {name:?}")));
    }
    let mut params = Vec::new();
    let bytes = s.as_bytes();
    let mut pos = name_end;
    while bytes.get(pos) == Some(&b';') {
        pos += 1;
        let eq = s[pos..]
            .find('=')
            .map(|i| i + pos)
            .ok_or_else(|| err(lineno, format!("{name}: parameter without '='")))?;
        let pname = &s[pos..eq];
        if !valid_name(pname) {
            return Err(err(lineno, format!("{name}: invalid parameter name")));
        }
        pos = eq + 1;
        let mut values = Vec::new();
        loop {
            if bytes.get(pos) == Some(&b'"') {
                let close = s[pos + 1..]
                    .find('"')
                    .map(|i| i + pos + 1)
                    .ok_or_else(|| err(lineno, format!("{name}: unterminated quoted parameter")))?;
                values.push(s[pos + 1..close].to_string());
                pos = close + 1;
            } else {
                let end = s[pos..]
                    .find([',', ';', ':'])
                    .map(|i| i + pos)
                    .ok_or_else(|| err(lineno, format!("{name}: content line has no value")))?;
                values.push(s[pos..end].to_string());
                pos = end;
            }
            if bytes.get(pos) == Some(&b',') {
                pos += 1;
            } else {
                break;
            }
        }
        params.push((pname.to_ascii_uppercase(), values));
    }
    if bytes.get(pos) != Some(&b':') {
        return Err(err(lineno, format!("{name}: malformed parameters")));
    }
    let name = name.to_ascii_uppercase();
    let value_start = pos + 1;
    let value = match &line {
        Cow::Borrowed(b) => Cow::Borrowed(&b[value_start..]),
        Cow::Owned(o) => Cow::Owned(o[value_start..].to_string()),
    };
    Ok(Prop {
        name,
        params,
        value,
        line,
        lineno,
    })
}

/// Parse a document into its top-level components (normally VCALENDARs).
pub(crate) fn parse(text: &str) -> Result<Vec<Comp<'_>>, IcalError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut top: Vec<Comp<'_>> = Vec::new();
    let mut stack: Vec<Comp<'_>> = Vec::new();
    for (lineno, line) in logical_lines(text) {
        let prop = parse_line(lineno, line)?;
        match prop.name.as_str() {
            "BEGIN" => {
                let name = prop.value.trim();
                if !valid_name(name) {
                    return Err(err(lineno, "BEGIN has an invalid component name"));
                }
                if stack.len() >= 16 {
                    return Err(err(lineno, "components nested too deeply"));
                }
                stack.push(Comp {
                    name: name.to_ascii_uppercase(),
                    props: Vec::new(),
                    comps: Vec::new(),
                    lineno,
                });
            }
            "END" => {
                let comp = stack
                    .pop()
                    .ok_or_else(|| err(lineno, "END without matching BEGIN"))?;
                if !prop.value.trim().eq_ignore_ascii_case(&comp.name) {
                    return Err(err(
                        lineno,
                        format!("END:{} does not close BEGIN:{}", prop.value, comp.name),
                    ));
                }
                match stack.last_mut() {
                    Some(parent) => parent.comps.push(comp),
                    None => top.push(comp),
                }
            }
            _ => match stack.last_mut() {
                Some(c) => c.props.push(prop),
                None => return Err(err(lineno, "property outside of any component")),
            },
        }
    }
    if let Some(open) = stack.last() {
        return Err(err(
            open.lineno,
            format!("BEGIN:{} is never closed", open.name),
        ));
    }
    if top.is_empty() {
        return Err(err(1, "no iCalendar component found"));
    }
    Ok(top)
}

/// Undo TEXT escaping (RFC 5545 section 3.3.11).
pub(crate) fn unescape(v: &str) -> String {
    if !v.contains('\\') {
        return v.to_string();
    }
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n' | 'N') => out.push('\n'),
                Some(o) => out.push(o),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Apply TEXT escaping (RFC 5545 section 3.3.11).
pub(crate) fn escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            o => out.push(o),
        }
    }
    out
}

/// Append one logical line, folded at 75 octets, with CRLF.
pub(crate) fn write_line(out: &mut String, line: &str) {
    // 75 octets on the first line, 74 after the folding space, never
    // splitting a character.
    let (mut rest, mut room) = (line, 75);
    while rest.len() > room {
        let mut cut = room;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        out.push_str(&rest[..cut]);
        out.push_str("\r\n ");
        rest = &rest[cut..];
        room = 74;
    }
    out.push_str(rest);
    out.push_str("\r\n");
}

/// Write a component and everything inside it.
pub(crate) fn write_comp(out: &mut String, comp: &Comp<'_>) {
    write_line(out, &format!("BEGIN:{}", comp.name));
    for p in &comp.props {
        write_line(out, &p.line);
    }
    for c in &comp.comps {
        write_comp(out, c);
    }
    write_line(out, &format!("END:{}", comp.name));
}

/// TZIDs referenced by parameters anywhere in `comp`.
pub(crate) fn referenced_tzids<'s>(comp: &'s Comp<'_>, out: &mut Vec<&'s str>) {
    for p in &comp.props {
        if let Some(t) = p.param("TZID")
            && !out.contains(&t)
        {
            out.push(t);
        }
    }
    for c in &comp.comps {
        referenced_tzids(c, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_folded_params_and_lf() {
        let t = "BEGIN:VCALENDAR\nversion:2.0\nBEGIN:VEVENT\nATTENDEE;PARTSTAT=ACCEPTED;CN=\"Doe, J\n ane\":mailto:a@b\nSUMMARY:a\\, b\r\n  c\nEND:VEVENT\nEND:VCALENDAR\n";
        let top = parse(t).unwrap();
        assert_eq!(top.len(), 1);
        let cal = &top[0];
        assert_eq!(cal.prop("VERSION").unwrap().value, "2.0");
        let ev = &cal.comps[0];
        let att = ev.prop("ATTENDEE").unwrap();
        assert_eq!(att.param("CN"), Some("Doe, Jane"));
        assert_eq!(att.param("PARTSTAT"), Some("ACCEPTED"));
        assert_eq!(att.value, "mailto:a@b");
        assert_eq!(att.lineno, 4);
        assert_eq!(ev.text("SUMMARY").unwrap(), "a, b c");
    }

    #[test]
    fn refuses_bad_structure() {
        assert!(parse("garbage").is_err());
        assert!(parse("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nEND:VCALENDAR\r\n").is_err());
        assert!(parse("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n").is_err());
        assert!(parse("VERSION:2.0\r\n").is_err());
        assert!(parse("").is_err());
    }

    #[test]
    fn folds_at_75_octets_on_char_boundaries() {
        let mut out = String::new();
        let line = format!("SUMMARY:{}", "é".repeat(60));
        write_line(&mut out, &line);
        for l in out.split("\r\n") {
            assert!(l.len() <= 75);
        }
        let unfolded: String = out.replace("\r\n ", "");
        assert_eq!(unfolded.trim_end(), line);
        assert_eq!(unescape(&escape("a;b,c\\d\ne")), "a;b,c\\d\ne");
    }

    #[test]
    fn folding_cuts_each_line_at_the_last_character_that_fits() {
        // The rule, a character at a time: 75 octets, then 74 after the space.
        let by_char = |line: &str| {
            let (mut out, mut width) = (String::new(), 0);
            for c in line.chars() {
                if width + c.len_utf8() > 75 {
                    out.push_str("\r\n ");
                    width = 1;
                }
                out.push(c);
                width += c.len_utf8();
            }
            out + "\r\n"
        };
        for n in [0, 1, 74, 75, 76, 149, 150, 151, 400] {
            for unit in ["a", "é", "€", "𝄞", "ab€"] {
                let line: String = unit.repeat(n).chars().take(n).collect();
                let mut out = String::new();
                write_line(&mut out, &line);
                assert_eq!(out, by_char(&line), "{n} x {unit}");
            }
        }
    }
}
