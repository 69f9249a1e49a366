//! Windows time-zone names (as Outlook and Exchange write them in TZID) to
//! IANA names. The table itself lives in `crate::ical::timezone` (also used
//! to resolve such TZIDs when indexing stored objects); this wrapper only
//! tells a Windows name from an IANA one.
//!
//! A TZID counts as a Windows name when it is not an exact IANA name, has
//! no '/', and `known_zone` resolves it to a zone whose IANA name differs
//! from it other than by case: "W. Europe Standard Time" → Europe/Berlin,
//! "Coordinated Universal Time" → UTC, but "UTC", "utc", "EST" or
//! "/mozilla.org/20050126_1/Europe/Berlin" are left alone.

use std::str::FromStr;

use chrono_tz::Tz;

use crate::ical::timezone::known_zone;

/// The IANA name for a Windows zone name, None for anything else.
pub(super) fn to_iana(tzid: &str) -> Option<&'static str> {
    let t = tzid.trim();
    if t.is_empty() || t.contains('/') || Tz::from_str(t).is_ok() {
        return None;
    }
    let iana = known_zone(t)?.name();
    (!iana.eq_ignore_ascii_case(t)).then_some(iana)
}

#[cfg(test)]
mod tests {
    use super::to_iana;

    #[test]
    fn maps_the_required_windows_names() {
        for (win, iana) in [
            ("W. Europe Standard Time", "Europe/Berlin"),
            ("Eastern Standard Time", "America/New_York"),
            ("Pacific Standard Time", "America/Los_Angeles"),
            ("Central Standard Time", "America/Chicago"),
            ("Mountain Standard Time", "America/Denver"),
            ("GMT Standard Time", "Europe/London"),
            ("Romance Standard Time", "Europe/Paris"),
            ("Central Europe Standard Time", "Europe/Budapest"),
            ("Central European Standard Time", "Europe/Warsaw"),
            ("Tokyo Standard Time", "Asia/Tokyo"),
            ("India Standard Time", "Asia/Kolkata"),
            ("AUS Eastern Standard Time", "Australia/Sydney"),
            ("China Standard Time", "Asia/Shanghai"),
            ("Coordinated Universal Time", "UTC"),
            (" w. europe standard time ", "Europe/Berlin"),
        ] {
            assert_eq!(to_iana(win), Some(iana), "{win}");
        }
    }

    #[test]
    fn leaves_iana_and_unknown_names() {
        for t in [
            "UTC",
            "utc",
            "EST",
            "Europe/Berlin",
            "europe/berlin",
            "/mozilla.org/20050126_1/Europe/Berlin",
            "Customized Time Zone",
            "",
        ] {
            assert_eq!(to_iana(t), None, "{t}");
        }
    }
}
