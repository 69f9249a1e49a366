//! The owned iCalendar tree the scheduling code edits (RFC 5545 section 3.1):
//! unfolding, splitting content lines into name, parameters and value, nesting
//! BEGIN/END, and writing back with CRLF folded at 75 octets. A property that
//! is not modified is written exactly as it was read (its unfolded line is
//! kept); a modified one is re-rendered from its parts.

/// One content line.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Prop {
    /// Upper-cased name.
    pub name: String,
    /// Parameters in order: upper-cased names, unquoted values.
    pub params: Vec<(String, Vec<String>)>,
    /// Raw (still escaped) value.
    pub value: String,
    /// The line as read (unfolded); None once the property was modified.
    raw: Option<String>,
}

impl Prop {
    pub fn new(name: &str, value: &str) -> Prop {
        Prop {
            name: name.to_ascii_uppercase(),
            params: Vec::new(),
            value: value.to_string(),
            raw: None,
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
            self.value = value.to_string();
            self.raw = None;
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
        self.raw = None;
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
    }

    /// Remove parameter `name`; true when it was present.
    pub fn remove_param(&mut self, name: &str) -> bool {
        let before = self.params.len();
        self.params.retain(|(n, _)| n != name);
        let changed = self.params.len() != before;
        if changed {
            self.raw = None;
        }
        changed
    }

    /// Rename (used to turn a RECURRENCE-ID into a DTSTART and back).
    pub fn renamed(&self, name: &str) -> Prop {
        Prop {
            name: name.to_string(),
            params: self.params.clone(),
            value: self.value.clone(),
            raw: None,
        }
    }

    /// The logical line to write.
    pub fn line(&self) -> String {
        match &self.raw {
            Some(r) => r.clone(),
            None => render(&self.name, self.params.iter(), &self.value),
        }
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

fn render<'a>(
    name: &str,
    params: impl Iterator<Item = &'a (String, Vec<String>)>,
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

/// A component with its properties and sub-components.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Comp {
    pub name: String,
    pub props: Vec<Prop>,
    pub comps: Vec<Comp>,
}

impl Comp {
    pub fn new(name: &str) -> Comp {
        Comp {
            name: name.to_string(),
            props: Vec::new(),
            comps: Vec::new(),
        }
    }
    pub fn prop(&self, name: &str) -> Option<&Prop> {
        self.props.iter().find(|p| p.name == name)
    }
    pub fn props_named<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s Prop> + 's {
        self.props.iter().filter(move |p| p.name == name)
    }
    /// Trimmed raw value of the first property `name`.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.prop(name).map(|p| p.value.trim())
    }
    pub fn remove(&mut self, name: &str) {
        self.props.retain(|p| p.name != name);
    }
    /// Replace the first property `name` (value only, parameters kept) or append it.
    pub fn set(&mut self, name: &str, value: &str) {
        match self.props.iter_mut().find(|p| p.name == name) {
            Some(p) => {
                if p.value != value || !p.params.is_empty() {
                    p.params.clear();
                    p.value = value.to_string();
                    p.raw = None;
                }
            }
            None => self.props.push(Prop::new(name, value)),
        }
    }
}

fn valid_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn parse_line(line: &str) -> Result<Prop, String> {
    let name_end = line
        .find([';', ':'])
        .ok_or_else(|| format!("content line without ':': {line:.40}"))?;
    let name = &line[..name_end];
    if !valid_name(name) {
        return Err(format!("invalid property name {name:.40}"));
    }
    let bytes = line.as_bytes();
    let mut pos = name_end;
    let mut params = Vec::new();
    while bytes.get(pos) == Some(&b';') {
        pos += 1;
        let eq = line[pos..]
            .find('=')
            .map(|i| i + pos)
            .ok_or_else(|| format!("{name}: parameter without '='"))?;
        let pname = &line[pos..eq];
        if !valid_name(pname) {
            return Err(format!("{name}: invalid parameter name"));
        }
        pos = eq + 1;
        let mut values = Vec::new();
        loop {
            if bytes.get(pos) == Some(&b'"') {
                let close = line[pos + 1..]
                    .find('"')
                    .map(|i| i + pos + 1)
                    .ok_or_else(|| format!("{name}: unterminated quoted parameter"))?;
                values.push(line[pos + 1..close].to_string());
                pos = close + 1;
            } else {
                let end = line[pos..]
                    .find([',', ';', ':'])
                    .map(|i| i + pos)
                    .ok_or_else(|| format!("{name}: no value"))?;
                values.push(line[pos..end].to_string());
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
        return Err(format!("{name}: malformed parameters"));
    }
    Ok(Prop {
        name: name.to_ascii_uppercase(),
        params,
        value: line[pos + 1..].to_string(),
        raw: Some(line.to_string()),
    })
}

/// Parse a document into its top-level components.
pub(super) fn parse(text: &str) -> Result<Vec<Comp>, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines: Vec<String> = Vec::new();
    for raw in text.split('\n') {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some(rest) = line.strip_prefix([' ', '\t'])
            && let Some(last) = lines.last_mut()
        {
            last.push_str(rest);
        } else if !line.trim().is_empty() {
            lines.push(line.to_string());
        }
    }
    let mut top = Vec::new();
    let mut stack: Vec<Comp> = Vec::new();
    for line in lines {
        let prop = parse_line(&line)?;
        match prop.name.as_str() {
            "BEGIN" => {
                let name = prop.value.trim();
                if !valid_name(name) || stack.len() >= 16 {
                    return Err("invalid or too deeply nested BEGIN".into());
                }
                stack.push(Comp::new(&name.to_ascii_uppercase()));
            }
            "END" => {
                let comp = stack.pop().ok_or("END without BEGIN")?;
                if !prop.value.trim().eq_ignore_ascii_case(&comp.name) {
                    return Err(format!(
                        "END:{} does not close BEGIN:{}",
                        prop.value, comp.name
                    ));
                }
                match stack.last_mut() {
                    Some(parent) => parent.comps.push(comp),
                    None => top.push(comp),
                }
            }
            _ => match stack.last_mut() {
                Some(c) => c.props.push(prop),
                None => return Err("property outside of any component".into()),
            },
        }
    }
    if let Some(open) = stack.last() {
        return Err(format!("BEGIN:{} is never closed", open.name));
    }
    Ok(top)
}

/// Append one logical line folded at 75 octets, CRLF-terminated.
pub(super) fn write_line(out: &mut String, line: &str) {
    let mut width = 0;
    for c in line.chars() {
        let n = c.len_utf8();
        if width + n > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += n;
    }
    out.push_str("\r\n");
}

/// Write a component and everything inside it.
pub(super) fn write_comp(out: &mut String, comp: &Comp) {
    write_line(out, &format!("BEGIN:{}", comp.name));
    for p in &comp.props {
        write_line(out, &p.line());
    }
    for c in &comp.comps {
        write_comp(out, c);
    }
    write_line(out, &format!("END:{}", comp.name));
}

pub(super) fn to_string(comp: &Comp) -> String {
    let mut out = String::new();
    write_comp(&mut out, comp);
    out
}

/// TZIDs referenced by parameters anywhere in `comp`.
pub(super) fn referenced_tzids(comp: &Comp, out: &mut Vec<String>) {
    for p in &comp.props {
        if let Some(t) = p.param("TZID")
            && !out.iter().any(|o| o == t)
        {
            out.push(t.to_string());
        }
    }
    for c in &comp.comps {
        referenced_tzids(c, out);
    }
}
