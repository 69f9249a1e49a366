//! TEMPORARY scaffold until the ical module lands (replaced wholesale).
pub mod query;
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TimeIndex {
    pub spans: Vec<(i64, i64)>,
    pub more_after: Option<i64>,
    pub exact: bool,
}
impl TimeIndex {
    pub fn may_overlap(&self, _start: Option<i64>, _end: Option<i64>) -> bool {
        true
    }
}
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IcalError(pub String);
impl std::fmt::Display for IcalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}
impl std::error::Error for IcalError {}
impl IcalError {
    pub fn is_unsupported_component(&self) -> bool {
        false
    }
    pub fn is_method_present(&self) -> bool {
        false
    }
}
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ComponentKind {
    Event,
    Todo,
    Journal,
    FreeBusy,
}
impl ComponentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Event => "VEVENT",
            Self::Todo => "VTODO",
            Self::Journal => "VJOURNAL",
            Self::FreeBusy => "VFREEBUSY",
        }
    }
    pub fn from_name(s: &str) -> Option<Self> {
        match s.to_ascii_uppercase().as_str() {
            "VEVENT" => Some(Self::Event),
            "VTODO" => Some(Self::Todo),
            "VJOURNAL" => Some(Self::Journal),
            "VFREEBUSY" => Some(Self::FreeBusy),
            _ => None,
        }
    }
}
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectInfo {
    pub uid: String,
    pub kind: ComponentKind,
    pub index: TimeIndex,
}
pub fn parse_object(text: &str) -> Result<ObjectInfo, IcalError> {
    let uid = text
        .lines()
        .find_map(|l| l.strip_prefix("UID:"))
        .ok_or(IcalError("no UID".into()))?
        .trim()
        .to_string();
    Ok(ObjectInfo {
        uid,
        kind: ComponentKind::Event,
        index: TimeIndex::default(),
    })
}
pub fn split_by_uid(text: &str) -> Result<Vec<(String, String)>, IcalError> {
    parse_object(text).map(|i| vec![(i.uid, text.to_string())])
}
pub fn matches(_text: &str, _filter: &query::Filter, _tz: Option<chrono_tz::Tz>) -> bool {
    true
}
pub fn render(text: &str, _spec: &query::CalendarDataSpec) -> Result<String, IcalError> {
    Ok(text.to_string())
}
pub fn free_busy<'a>(
    _o: impl IntoIterator<Item = &'a str>,
    _s: chrono::DateTime<chrono::Utc>,
    _e: chrono::DateTime<chrono::Utc>,
) -> String {
    String::new()
}
pub fn merge_calendars<'a>(o: impl IntoIterator<Item = &'a str>, _name: Option<&str>) -> String {
    o.into_iter().collect()
}
