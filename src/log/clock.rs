//! Local time for the log, with the zone's offset shared by every thread,
//! and its text.
//!
//! chrono's `Local::now()` keeps the zone per thread: each of 2048 workers
//! would read and parse `/etc/localtime` on its first line, deep in its
//! stack (a page more for every connection's thread, docs/bench.md), and
//! look at the file again on every line. Here the offset is worked out
//! once per quarter hour of UTC, by whichever thread logs first in it, and
//! read by the others from one atomic. Zones change their offset at a
//! quarter hour of UTC (every daylight-saving rule in use does), so every
//! line keeps its correct local time; a zone file replaced while the
//! server runs is seen within a quarter hour.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use chrono::{DateTime, Datelike, FixedOffset, Local, Offset, TimeZone, Timelike, Utc};

/// Seconds of UTC within which a zone's offset cannot change.
const SLOT_SECS: i64 = 15 * 60;

/// The quarter hour (plus one, so 0 is "none yet") in the high 32 bits,
/// the offset in seconds in the low 32.
static OFFSET: AtomicU64 = AtomicU64::new(0);

/// Now, in the local zone.
pub(super) fn now() -> DateTime<FixedOffset> {
    let utc = Utc::now();
    utc.with_timezone(&offset_at(&utc))
}

/// Appends `2026-11-28 20:13:05.123` (`%Y-%m-%d %H:%M:%S%.3f`), digit by
/// digit: chrono's formatter goes through `fmt` machinery half a KiB deep
/// on the stack and costs more than the rest of a short line.
pub(super) fn write_timestamp(out: &mut Vec<u8>, now: &DateTime<FixedOffset>) {
    let fields = [
        (now.year().unsigned_abs(), 4, b'-'),
        (now.month(), 2, b'-'),
        (now.day(), 2, b' '),
        (now.hour(), 2, b':'),
        (now.minute(), 2, b':'),
        (now.second(), 2, b'.'),
    ];
    for (value, width, after) in fields {
        digits(out, value, width);
        out.push(after);
    }
    digits(out, now.nanosecond() / 1_000_000, 3);
}

/// `value` in decimal, zero-padded to `width` digits.
pub(super) fn digits(out: &mut Vec<u8>, value: u32, width: usize) {
    let mut buf = [b'0'; 10];
    let mut rest = value;
    let mut at = buf.len();
    while rest > 0 || buf.len() - at < width {
        at -= 1;
        buf[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    out.extend_from_slice(&buf[at..]);
}

fn offset_at(utc: &DateTime<Utc>) -> FixedOffset {
    let slot = utc.timestamp().div_euclid(SLOT_SECS) + 1;
    let cached = OFFSET.load(Relaxed);
    if (cached >> 32) as i64 == slot {
        if let Some(offset) = FixedOffset::east_opt(cached as u32 as i32) {
            return offset;
        }
    }
    let offset = Local.offset_from_utc_datetime(&utc.naive_utc()).fix();
    let seconds = offset.local_minus_utc() as u32 as u64;
    OFFSET.store(((slot as u64) << 32) | seconds, Relaxed);
    offset
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shared_offset_is_chronos_local_one() {
        for _ in 0..2 {
            let mine = now();
            let chronos = Local::now();
            assert_eq!(mine.offset().fix(), chronos.offset().fix());
            assert!((chronos.timestamp_millis() - mine.timestamp_millis()).abs() < 60_000);
        }
    }

    #[test]
    fn timestamps_read_as_chrono_writes_them() {
        let times = [
            "2026-11-28T20:13:05.123+01:00",
            "2026-01-02T03:04:05.006-09:30",
            "0999-12-31T23:59:59.999+00:00",
            "2026-06-30T00:00:00+05:45",
        ];
        for time in times {
            let at = DateTime::parse_from_rfc3339(time).unwrap();
            let mut out = Vec::new();
            write_timestamp(&mut out, &at);
            let chronos = at.format("%Y-%m-%d %H:%M:%S%.3f").to_string();
            assert_eq!(String::from_utf8(out).unwrap(), chronos, "{time}");
        }
    }

    #[test]
    fn a_new_quarter_hour_asks_the_zone_again() {
        let utc = Utc::now();
        let offset = offset_at(&utc);
        // A cached offset from another quarter hour is not used.
        OFFSET.store(0x7fff_ffff << 32, Relaxed);
        assert_eq!(offset_at(&utc), offset);
        assert_eq!(
            (OFFSET.load(Relaxed) >> 32) as i64,
            utc.timestamp().div_euclid(SLOT_SECS) + 1
        );
    }
}
