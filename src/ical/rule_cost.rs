//! The cost of an RRULE (RFC 5545 section 3.3.10) before it is expanded:
//! how many candidate instances one period of its FREQ produces. The
//! `rrule` crate builds every candidate of a period at once (a YEARLY rule
//! with BYMONTH, BYMONTHDAY, BYHOUR, BYMINUTE and BYSECOND lists makes 32
//! million per year), so a rule above [`MAX_CANDIDATES_PER_PERIOD`] is
//! refused, and [`result_budget`] bounds how many results one expansion
//! may look at so that the work stays under [`WORK_BUDGET`] candidates.

/// Most candidate instances one period of a rule may produce (every hour of
/// every day of a year is 8,784).
pub(crate) const MAX_CANDIDATES_PER_PERIOD: u64 = 10_000;
/// Most candidates one expansion may build, counted as results times the
/// candidates behind each result.
pub(crate) const WORK_BUDGET: u64 = 2_000_000;

/// Number of values in each BYxxx part of a rule (summed when repeated).
#[derive(Debug, Default)]
struct Parts {
    freq: String,
    by: [u64; 9],
    set_pos: Vec<i64>,
}

const BY: [&str; 9] = [
    "BYMONTH",
    "BYWEEKNO",
    "BYYEARDAY",
    "BYMONTHDAY",
    "BYDAY",
    "BYHOUR",
    "BYMINUTE",
    "BYSECOND",
    "BYSETPOS",
];

fn parts(rule: &str) -> Parts {
    let mut p = Parts::default();
    for part in rule.split(';') {
        let Some((k, v)) = part.split_once('=') else {
            continue;
        };
        let k = k.trim().to_ascii_uppercase();
        if k == "FREQ" {
            p.freq = v.trim().to_ascii_uppercase();
        } else if let Some(i) = BY.iter().position(|b| *b == k) {
            p.by[i] += v.split(',').count() as u64;
            if k == "BYSETPOS" {
                p.set_pos
                    .extend(v.split(',').filter_map(|n| n.trim().parse::<i64>().ok()));
            }
        }
    }
    p
}

/// Candidates one period of `rule` produces, at most.
pub(crate) fn candidates_per_period(rule: &str) -> u64 {
    let p = parts(rule);
    let n = |name: &str| {
        let i = BY.iter().position(|b| *b == name).unwrap_or(0);
        p.by[i]
    };
    let or1 = |v: u64| v.max(1);
    let days = match p.freq.as_str() {
        "YEARLY" => {
            let mut d = 366;
            if n("BYYEARDAY") > 0 {
                d = d.min(n("BYYEARDAY"));
            }
            if n("BYWEEKNO") > 0 {
                d = d.min(7 * n("BYWEEKNO"));
            }
            let months = if n("BYMONTH") > 0 { n("BYMONTH") } else { 12 };
            d = d.min(31 * months);
            if n("BYMONTHDAY") > 0 {
                d = d.min(months * n("BYMONTHDAY"));
            }
            d
        }
        "MONTHLY" if n("BYMONTHDAY") > 0 => n("BYMONTHDAY").min(31),
        "MONTHLY" => 31,
        "WEEKLY" => 7,
        _ => 1,
    };
    let (hours, minutes, seconds) = match p.freq.as_str() {
        "YEARLY" | "MONTHLY" | "WEEKLY" | "DAILY" => {
            (or1(n("BYHOUR")), or1(n("BYMINUTE")), or1(n("BYSECOND")))
        }
        "HOURLY" => (1, or1(n("BYMINUTE")), or1(n("BYSECOND"))),
        "MINUTELY" => (1, 1, or1(n("BYSECOND"))),
        _ => (1, 1, 1),
    };
    days.saturating_mul(hours)
        .saturating_mul(minutes)
        .saturating_mul(seconds)
}

/// Refuse a rule whose periods are absurdly large, or whose BYSETPOS can
/// never select anything (the expansion would then walk every period of
/// the calendar looking for one).
pub(crate) fn check(rule: &str) -> Result<u64, String> {
    let c = candidates_per_period(rule);
    if c > MAX_CANDIDATES_PER_PERIOD {
        return Err(format!(
            "RRULE makes {c} candidate instances per period, more than {MAX_CANDIDATES_PER_PERIOD}"
        ));
    }
    let p = parts(rule);
    if !p.set_pos.is_empty() && p.set_pos.iter().all(|&n| n.unsigned_abs() > c) {
        return Err(format!(
            "RRULE BYSETPOS selects beyond the {c} candidates of each period"
        ));
    }
    Ok(c)
}

/// Most rule results one expansion looks at, given `c` candidates per
/// period: each result of a BYSETPOS rule may cost a whole period.
pub(crate) fn result_budget(rule: &str, c: u64, budget: usize) -> usize {
    if parts(rule).by[8] == 0 {
        return budget;
    }
    let n = WORK_BUDGET / c.max(1);
    budget.min(usize::try_from(n).unwrap_or(usize::MAX)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_rule_is_refused() {
        let rule = "FREQ=YEARLY;BYMONTH=1,2,3,4,5,6,7,8,9,10,11,12;BYMONTHDAY=1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31;BYHOUR=0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23;BYMINUTE=0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55,56,57,58,59;BYSECOND=0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55,56,57,58,59";
        // 12 months of 31 days, capped at the 366 days of a year.
        assert_eq!(candidates_per_period(rule), 366 * 24 * 60 * 60);
        assert!(check(rule).unwrap_err().contains("candidate"));
    }

    #[test]
    fn ordinary_rules_pass() {
        for (rule, c) in [
            ("FREQ=DAILY", 1),
            ("FREQ=WEEKLY;BYDAY=MO,WE,FR", 7),
            ("FREQ=MONTHLY;BYDAY=2TU", 31),
            ("FREQ=MONTHLY;BYMONTHDAY=1,15", 2),
            ("FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU", 31),
            (
                "FREQ=YEARLY;BYHOUR=0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23",
                366 * 24,
            ),
            ("FREQ=HOURLY;BYMINUTE=0,15,30,45", 4),
            ("FREQ=MINUTELY;BYSECOND=0,30", 2),
            ("FREQ=SECONDLY", 1),
            ("freq=weekly;interval=2;byday=MO;bysetpos=1", 7),
        ] {
            assert_eq!(candidates_per_period(rule), c, "{rule}");
            assert!(check(rule).is_ok(), "{rule}");
        }
    }

    #[test]
    fn set_pos_bounds() {
        assert!(check("FREQ=MONTHLY;BYDAY=MO;BYSETPOS=40").is_err());
        assert!(check("FREQ=MONTHLY;BYDAY=MO;BYSETPOS=40,-1").is_ok());
        let rule = "FREQ=YEARLY;BYHOUR=0,1,2,3;BYSETPOS=1";
        assert_eq!(result_budget(rule, 366 * 4, 100_000), 2_000_000 / 1464);
        assert_eq!(result_budget("FREQ=DAILY", 1, 100_000), 100_000);
    }
}
