//! A panic while serving one connection costs that connection only.

use std::io::Write;

use rustix::process::Signal;

use crate::util::{ACK, Server, connect, exchange, read_to_end};

#[test]
// Release builds have no way to make a connection panic, by design.
#[cfg_attr(
    not(debug_assertions),
    ignore = "needs TCPACK_TEST_PANIC_ON, a debug-only test hook"
)]
fn a_panic_closes_its_connection_only_and_the_worker_goes_on() {
    // Debug builds panic on a message equal to TCPACK_TEST_PANIC_ON; release builds ignore it.
    let mut server = Server::start_via_shell(
        "TCPACK_TEST_PANIC_ON=boom exec \"$TCPACK\" server --bind 127.0.0.1:0 --workers 1 --framing line",
    );
    // More panics than workers: each must leave the only worker serving.
    for round in 1..=3 {
        // Connections #1, #3, #5 panic; #2, #4, #6 are served after them.
        let mut client = connect(server.addr);
        client.write_all(b"before\nboom\nafter\n").unwrap();
        // The message read before the panic keeps its ack; then the connection closes.
        assert_eq!(read_to_end(&mut client), ACK, "round {round}");
        let line = server.wait_for_nth("ERROR", round);
        assert!(
            line.contains(&format!("#{} 127.0.0.1:", 2 * round - 1))
                && line.contains("internal error while serving this connection")
                && line.contains("test panic"),
            "{line}"
        );
        server.wait_for_nth("closed: internal error", round);
        exchange(&mut connect(server.addr), b"still served\n", ACK);
    }
    server.signal(Signal::INT);
    assert!(server.wait_exit().success());
    let summary = server.wait_for("stopped:");
    assert!(summary.contains(", 3 errors,"), "{summary}");
}

#[test]
// Release builds have no way to make a datagram panic, by design.
#[cfg_attr(
    not(debug_assertions),
    ignore = "needs TCPACK_TEST_PANIC_ON, a debug-only test hook"
)]
fn a_panic_while_answering_a_datagram_costs_that_datagram_only() {
    let mut server = Server::start_via_shell(
        "TCPACK_TEST_PANIC_ON=boom exec \"$TCPACK\" server --bind 127.0.0.1:0 --proto udp --udp-workers 1",
    );
    let socket = crate::util::udp_client(server.addr);
    socket.send(b"boom\n").unwrap();
    let line = server.wait_for("ERROR");
    assert!(
        line.contains(" udp 127.0.0.1:") && line.contains("test panic"),
        "{line}"
    );
    // The only receiver goes on.
    assert_eq!(crate::util::udp_exchange(&socket, b"after"), ACK);
    server.signal(Signal::INT);
    assert!(server.wait_exit().success());
    let summary = server.wait_for("stopped:");
    assert!(summary.contains(", 1 errors,"), "{summary}");
}
