//! The status port: `nc 127.0.0.1 9785` (or a balancer's health check) reads
//! whether the instance takes clients and how busy it is, then the port closes.
//! It blocks in `accept` like the main port, so it costs nothing while unused.

use std::io::Write;
use std::net::TcpListener;

use super::lifecycle::Phase;
use super::state::ServerState;

/// Answers status requests until the server is done.
pub fn serve(state: &ServerState, listener: &TcpListener) {
    loop {
        let accepted = listener.accept();
        if state.lifecycle.phase() == Phase::Done {
            return;
        }
        let Ok((mut stream, _)) = accepted else {
            // Out of descriptors, say: the main port logs it; here, just do not spin.
            std::thread::sleep(std::time::Duration::from_millis(100));
            continue;
        };
        let _ = stream.set_write_timeout(Some(state.config.write_timeout));
        let _ = stream.write_all(report(state).as_bytes());
        state.closer.close(stream);
    }
}

/// `key value` lines; the first says whether to send clients here.
fn report(state: &ServerState) -> String {
    let status = match state.lifecycle.phase() {
        Phase::Running => "ok",
        _ => "draining",
    };
    let (active, waiting) = state.registry.counts();
    let s = state.stats.snapshot();
    let mut report = format!(
        "status {status}\nactive {active}\nwaiting {waiting}\nworkers {}\nconnections_closed {}\nmessages {}\nbytes {}\nerrors {}\nrejected {}\nuptime_ms {}\n",
        state.config.workers, s.connections, s.messages, s.bytes, s.errors, s.rejected, s.uptime_ms
    );
    if state.config.proto.udp() {
        let u = &s.udp;
        report += &format!(
            "udp_receivers {}\nudp_datagrams {}\nudp_bytes {}\nudp_peers {}\nudp_answered {}\nudp_rate_limited {}\nudp_too_big {}\n",
            state.config.udp_workers,
            u.datagrams,
            u.datagram_bytes,
            u.peers,
            u.answered,
            u.rate_limited,
            u.too_big
        );
    }
    report
}
