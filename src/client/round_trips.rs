//! The client's count of messages sent and acked, and their round-trip times.

use std::time::Duration;

/// Round-trip times so far; shared with the Ctrl-C handler, which prints them.
#[derive(Debug, Default)]
pub(crate) struct RoundTrips {
    pub(super) sent: u64,
    pub(super) acked: u64,
    rtt_min: Option<Duration>,
    rtt_max: Duration,
    rtt_sum: Duration,
}

impl RoundTrips {
    pub(super) fn record(&mut self, rtt: Duration) {
        self.acked += 1;
        self.rtt_min = Some(self.rtt_min.map_or(rtt, |m| m.min(rtt)));
        self.rtt_max = self.rtt_max.max(rtt);
        self.rtt_sum += rtt;
    }

    /// One line: sent, acked, unacked, and round-trip times if any.
    pub(crate) fn summary(&self) -> String {
        let lost = self.sent - self.acked;
        let mut line = format!("sent {}, acked {}, unacked {lost}", self.sent, self.acked);
        if let Some(min) = self.rtt_min {
            let avg = self.rtt_sum / u32::try_from(self.acked).unwrap_or(u32::MAX);
            line += &format!(
                ", rtt min/avg/max = {}/{}/{} ms",
                ms(min),
                ms(avg),
                ms(self.rtt_max)
            );
        }
        line
    }
}

pub(super) fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_reads_like_ping() {
        let mut round_trips = RoundTrips {
            sent: 3,
            ..RoundTrips::default()
        };
        round_trips.record(Duration::from_micros(100));
        round_trips.record(Duration::from_micros(300));
        assert_eq!(
            round_trips.summary(),
            "sent 3, acked 2, unacked 1, rtt min/avg/max = 0.100/0.200/0.300 ms"
        );
    }
}
