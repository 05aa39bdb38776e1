//! Durations as people write them, one parser for the command line and
//! the rules file: `200ms`, `1.5s`, and where a flag counts in seconds, a
//! bare `1.5`.

use std::time::Duration;

/// What a number without a unit means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unitless {
    /// Seconds, as the command line's `SECS` flags count.
    Seconds,
    /// Nothing: the rules file asks for a unit, so `delay = "10"` is not
    /// taken for ten seconds when ten milliseconds were meant.
    Refused,
}

/// Beyond this a duration is surely a typo, and would overflow a deadline.
const MAX_SECS: f64 = 1e9;

/// A duration from zero up to about 31 years.
pub(crate) fn parse(text: &str, bare: Unitless) -> Result<Duration, String> {
    let text = text.trim();
    let bad = || match bare {
        Unitless::Seconds => {
            format!("{text:?} is not a duration like \"200ms\" or \"1.5s\", or a number of seconds")
        }
        Unitless::Refused => format!("{text:?} is not a duration like \"200ms\" or \"1.5s\""),
    };
    let (number, unit) = if let Some(n) = text.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1.0)
    } else if bare == Unitless::Seconds {
        (text, 1.0)
    } else {
        return Err(bad());
    };
    let value: f64 = number.trim().parse().map_err(|_| bad())?;
    let secs = value * unit;
    if !(0.0..=MAX_SECS).contains(&secs) {
        return Err(bad());
    }
    Duration::try_from_secs_f64(secs).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_bare_seconds() {
        let ms = Duration::from_millis;
        for bare in [Unitless::Seconds, Unitless::Refused] {
            assert_eq!(parse("200ms", bare), Ok(ms(200)));
            assert_eq!(parse(" 1.5s ", bare), Ok(ms(1500)));
            assert_eq!(parse("0ms", bare), Ok(Duration::ZERO));
            for bad in ["-1s", "NaN s", "infs", "1e10s", "soon", "5m", ""] {
                assert!(parse(bad, bare).is_err(), "{bad}");
            }
        }
        assert_eq!(parse("0.5", Unitless::Seconds), Ok(ms(500)));
        assert_eq!(
            parse("300", Unitless::Seconds),
            Ok(Duration::from_secs(300))
        );
        let error = parse("10", Unitless::Refused).unwrap_err();
        assert!(error.contains("is not a duration like"), "{error}");
    }
}
