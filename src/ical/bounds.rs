//! Bounds on generated iCalendar output (RFC 4791 section 9.6 expand,
//! limit-recurrence-set, free/busy): the per-request [`Limits`], the
//! [`OutputError`] a computation stops with when it would exceed them, and
//! [`Out`], a text buffer that refuses a line before allocating past its
//! byte budget. Checked while writing, so nothing is ever built whole.

use super::IcalError;
use super::model::Comp;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

/// What one report computation may use.
#[derive(Debug, Clone, Copy)]
pub struct Limits<'a> {
    /// Most instances of one recurring object (per recurrence set).
    pub max_instances: usize,
    /// Most bytes of output.
    pub max_bytes: usize,
    /// Set when the client has gone: the work stops at the next check.
    pub cancelled: &'a AtomicBool,
    /// The zone floating DATE-TIME and DATE values are read in: the
    /// request's CALDAV:timezone or the calendar's `calendar-timezone`
    /// (RFC 4791 sections 7.3, 9.8); UTC when None.
    pub timezone: Option<chrono_tz::Tz>,
}

static NEVER: AtomicBool = AtomicBool::new(false);

impl Limits<'static> {
    /// Limits that are never cancelled.
    pub fn new(max_instances: usize, max_bytes: usize) -> Self {
        Limits {
            max_instances,
            max_bytes,
            cancelled: &NEVER,
            timezone: None,
        }
    }
}

impl Limits<'_> {
    /// Err(Cancelled) once the client is gone.
    pub(crate) fn check(&self) -> Result<(), OutputError> {
        if self.cancelled.load(Ordering::Relaxed) {
            Err(OutputError::Cancelled)
        } else {
            Ok(())
        }
    }
}

/// Why output was not produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputError {
    /// The stored data does not parse or expand.
    Invalid(IcalError),
    /// A recurrence set has more instances in the range than the limit.
    TooManyInstances(usize),
    /// The output would exceed this many bytes.
    TooLarge(usize),
    /// The request was abandoned.
    Cancelled,
}

impl From<IcalError> for OutputError {
    fn from(e: IcalError) -> Self {
        OutputError::Invalid(e)
    }
}

impl fmt::Display for OutputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OutputError::Invalid(e) => write!(f, "{e}"),
            OutputError::TooManyInstances(n) => write!(
                f,
                "a recurrence set has more than {n} instances in the range (limits.max_instances_per_object)"
            ),
            OutputError::TooLarge(n) => write!(
                f,
                "the answer would exceed {n} bytes (limits.max_response_bytes)"
            ),
            OutputError::Cancelled => f.write_str("the request was abandoned"),
        }
    }
}

/// Bytes `write_line` produces for a logical line of `len` bytes, at most:
/// a fold (CRLF and a space) at least every 71 bytes, and the final CRLF.
pub(crate) fn folded_len(len: usize) -> usize {
    len + (len / 71) * 3 + 2
}

/// A text buffer with a byte budget.
pub(crate) struct Out {
    pub buf: String,
    max: usize,
}

impl Out {
    pub fn new(max: usize, hint: usize) -> Self {
        Out {
            buf: String::with_capacity(hint.min(max)),
            max,
        }
    }

    /// Err(TooLarge) when `n` more bytes would pass the budget.
    pub fn reserve(&self, n: usize) -> Result<(), OutputError> {
        if self.buf.len().saturating_add(n) > self.max {
            return Err(OutputError::TooLarge(self.max));
        }
        Ok(())
    }

    /// One logical line, folded, refused before it is written when it
    /// does not fit.
    pub fn line(&mut self, line: &str) -> Result<(), OutputError> {
        self.reserve(folded_len(line.len()))?;
        super::model::write_line(&mut self.buf, line);
        Ok(())
    }

    /// A whole component.
    pub fn comp(&mut self, c: &Comp<'_>) -> Result<(), OutputError> {
        self.line(&format!("BEGIN:{}", c.name))?;
        for p in &c.props {
            self.line(&p.line)?;
        }
        for sub in &c.comps {
            self.comp(sub)?;
        }
        self.line(&format!("END:{}", c.name))
    }
}

#[cfg(test)]
mod tests {
    use super::super::model::write_line;
    use super::*;

    #[test]
    fn folded_len_is_an_upper_bound() {
        for len in [0, 1, 74, 75, 76, 150, 1000, 100_000] {
            for ch in ["a", "é", "€", "😀"] {
                let n = len / ch.len();
                let line = ch.repeat(n);
                let mut s = String::new();
                write_line(&mut s, &line);
                assert!(s.len() <= folded_len(line.len()), "{len} {ch}");
            }
        }
    }

    #[test]
    fn out_refuses_before_writing() {
        let mut out = Out::new(20, 0);
        out.line("SUMMARY:abc").unwrap();
        let before = out.buf.clone();
        assert_eq!(
            out.line("SUMMARY:abcdefghij"),
            Err(OutputError::TooLarge(20))
        );
        assert_eq!(out.buf, before);
    }

    #[test]
    fn cancel_flag_is_seen() {
        let flag = AtomicBool::new(false);
        let l = Limits {
            max_instances: 1,
            max_bytes: 1,
            cancelled: &flag,
            timezone: None,
        };
        assert!(l.check().is_ok());
        flag.store(true, Ordering::Relaxed);
        assert_eq!(l.check(), Err(OutputError::Cancelled));
    }
}
