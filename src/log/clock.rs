//! Local time for the log, with the zone's offset shared by every thread.
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

use chrono::{DateTime, FixedOffset, Local, Offset, TimeZone, Utc};

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
