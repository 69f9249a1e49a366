//! Editing the iCalendar syntax tree of `model` (used by the scheduling
//! code on owned trees, `Comp<'static>`): building new components and
//! properties, changing values and parameters, and rendering a changed
//! property back into a content line. A property keeps its line as read
//! (and is written back verbatim) until it is changed; each change renders
//! the line anew from name, parameters and value, with parameter values
//! quoted when they hold ':', ';' or ','.

use super::IcalError;
use super::model::{Comp, Prop, parse, write_comp};
use std::borrow::Cow;

/// Parse a document into top-level components that own their text.
pub(crate) fn parse_owned(text: &str) -> Result<Vec<Comp<'static>>, IcalError> {
    Ok(parse(text)?.into_iter().map(Comp::into_owned).collect())
}

/// A component and everything inside it as text (CRLF, folded).
pub(crate) fn to_string(comp: &Comp<'_>) -> String {
    let mut out = String::new();
    write_comp(&mut out, comp);
    out
}

/// A logical line from name, parameters and (already escaped) value.
fn render<'p>(
    name: &str,
    params: impl Iterator<Item = &'p (String, Vec<String>)>,
    value: &str,
) -> String {
    let mut s = name.to_string();
    for (n, vals) in params {
        s.push(';');
        s.push_str(n);
        s.push('=');
        for (i, v) in vals.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            let v: String = v.chars().filter(|&c| c != '"' && !c.is_control()).collect();
            if v.contains([':', ';', ',']) {
                s.push('"');
                s.push_str(&v);
                s.push('"');
            } else {
                s.push_str(&v);
            }
        }
    }
    s.push(':');
    s.push_str(value);
    s
}

/// A property built from its parts, with its line rendered.
fn built(
    name: String,
    params: Vec<(String, Vec<String>)>,
    value: String,
    lineno: usize,
) -> Prop<'static> {
    let line = render(&name, params.iter(), &value);
    Prop {
        name,
        params,
        value: Cow::Owned(value),
        line: Cow::Owned(line),
        lineno,
    }
}

impl Prop<'_> {
    /// Render the line anew after the name, parameters or value were changed
    /// in place.
    pub fn rerender(&mut self) {
        self.line = Cow::Owned(render(&self.name, self.params.iter(), &self.value));
    }

    /// A new property (name upper-cased) without parameters.
    pub fn new(name: &str, value: &str) -> Prop<'static> {
        built(name.to_ascii_uppercase(), Vec::new(), value.to_string(), 0)
    }

    /// Render the line from the parts after a change.
    fn changed(&mut self) {
        self.line = Cow::Owned(render(&self.name, self.params.iter(), &self.value));
    }

    /// All values of parameter `name`.
    pub fn param_values(&self, name: &str) -> Vec<String> {
        self.params
            .iter()
            .filter(|(n, _)| n == name)
            .flat_map(|(_, v)| v.iter().cloned())
            .collect()
    }

    /// Replace the value (already escaped as needed).
    pub fn set_value(&mut self, value: &str) {
        if self.value != value {
            self.value = Cow::Owned(value.to_string());
            self.changed();
        }
    }

    /// Set (replace, in place) parameter `name` to the single value `value`.
    pub fn set_param(&mut self, name: &str, value: &str) {
        self.set_param_values(name, vec![value.to_string()]);
    }

    /// Set (replace, in place) parameter `name` to several values.
    pub fn set_param_values(&mut self, name: &str, values: Vec<String>) {
        let count = self.params.iter().filter(|(n, _)| n == name).count();
        if count == 1 && self.param_values(name) == values {
            return;
        }
        match self.params.iter().position(|(n, _)| n == name) {
            Some(i) => {
                self.params[i].1 = values;
                let mut seen = 0;
                self.params.retain(|(n, _)| {
                    seen += usize::from(n == name);
                    n != name || seen == 1
                });
            }
            None => self.params.push((name.to_string(), values)),
        }
        self.changed();
    }

    /// Remove parameter `name`; true when it was present.
    pub fn remove_param(&mut self, name: &str) -> bool {
        let before = self.params.len();
        self.params.retain(|(n, _)| n != name);
        let changed = self.params.len() != before;
        if changed {
            self.changed();
        }
        changed
    }

    /// Rename (used to turn a RECURRENCE-ID into a DTSTART and back).
    pub fn renamed(&self, name: &str) -> Prop<'static> {
        built(
            name.to_string(),
            self.params.clone(),
            self.value.to_string(),
            self.lineno,
        )
    }

    /// A comparison form: name, parameters sorted (without `skip`), value.
    pub fn canonical(&self, skip: &[&str]) -> String {
        let mut params: Vec<&(String, Vec<String>)> = self
            .params
            .iter()
            .filter(|(n, _)| !skip.contains(&n.as_str()))
            .collect();
        params.sort();
        render(&self.name, params.into_iter(), self.value.trim())
    }
}

impl<'a> Comp<'a> {
    /// A new, empty component (name as given).
    pub fn new(name: &str) -> Comp<'a> {
        Comp {
            name: name.to_string(),
            props: Vec::new(),
            comps: Vec::new(),
            lineno: 0,
        }
    }

    /// Trimmed raw value of the first property `name`.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.prop(name).map(|p| p.value.trim())
    }

    /// Remove every property `name`.
    pub fn remove(&mut self, name: &str) {
        self.props.retain(|p| p.name != name);
    }

    /// Replace the first property `name` (value only, parameters dropped) or append it.
    pub fn set(&mut self, name: &str, value: &str) {
        match self.props.iter_mut().find(|p| p.name == name) {
            Some(p) => {
                if p.value != value || !p.params.is_empty() {
                    p.params.clear();
                    p.value = Cow::Owned(value.to_string());
                    p.changed();
                }
            }
            None => self.props.push(Prop::new(name, value)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unchanged_props_stay_verbatim_changed_ones_are_rendered() {
        let t = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\natTendee;cn=\"A\";RSVP=TRUE:mailto:a@b\r\nsummary:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let mut cal = parse_owned(t).unwrap().remove(0);
        let ev = &mut cal.comps[0];
        assert_eq!(
            to_string(ev).lines().nth(1),
            Some("atTendee;cn=\"A\";RSVP=TRUE:mailto:a@b")
        );
        ev.props[0].set_param("CN", "Doe, J");
        ev.props[0].remove_param("RSVP");
        ev.set("DTSTAMP", "20240101T000000Z");
        let out = to_string(ev);
        assert!(out.contains("ATTENDEE;CN=\"Doe, J\":mailto:a@b\r\n"));
        assert!(out.contains("summary:x\r\nDTSTAMP:20240101T000000Z\r\n"));
        assert_eq!(ev.props[0].renamed("X").line, "X;CN=\"Doe, J\":mailto:a@b");
    }
}
