//! The status port: `nc 127.0.0.1 9785` (or a balancer's health check) reads
//! whether the instance takes clients and how busy it is, then the port closes.
//! It blocks in `accept` like the main port, so it costs nothing while unused.

use std::io::Write;
use std::net::TcpListener;

use crate::server::Shared;
use crate::shutdown::Phase;

/// Answers status requests until the server is done.
pub fn serve(shared: &Shared, listener: &TcpListener) {
    loop {
        let accepted = listener.accept();
        if shared.shutdown.phase() == Phase::Done {
            return;
        }
        let Ok((mut stream, _)) = accepted else {
            // Out of descriptors, say: the main port logs it; here, just do not spin.
            std::thread::sleep(std::time::Duration::from_millis(100));
            continue;
        };
        let _ = stream.set_write_timeout(Some(shared.config.write_timeout));
        let _ = stream.write_all(report(shared).as_bytes());
        shared.closer.close(stream);
    }
}

/// `key value` lines; the first says whether to send clients here.
pub fn report(shared: &Shared) -> String {
    let status = match shared.shutdown.phase() {
        Phase::Running => "ok",
        _ => "draining",
    };
    let (active, waiting) = shared.connections.counts();
    let s = shared.stats.snapshot();
    format!(
        "status {status}\nactive {active}\nwaiting {waiting}\nworkers {}\nconnections_closed {}\nmessages {}\nbytes {}\nerrors {}\nrejected {}\nuptime_ms {}\n",
        shared.config.workers,
        s.connections,
        s.messages,
        s.bytes,
        s.errors,
        s.rejected,
        s.uptime_ms
    )
}
