use super::*;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use crate::decode::{DecodeMode, TextDecoder};
use crate::log::{LogFormat, Sink};
use crate::server::relay::faults::Shaping;
use crate::tap::{TapEvent, Watcher};

#[derive(Default)]
struct SeenMessages(Mutex<Vec<String>>);

impl Watcher for SeenMessages {
    fn see(&self, _: SystemTime, what: &TapEvent<'_>) {
        if let TapEvent::Message { from, bytes, .. } = what {
            let seen = format!("{}:{}", from.as_str(), String::from_utf8_lossy(bytes));
            self.0.lock().unwrap().push(seen);
        }
    }
}

/// A connected pair: (the far end a test holds, the near end the relay holds).
fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let far = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let near = listener.accept().unwrap().0;
    near.set_nonblocking(true).unwrap();
    far.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    (far, near)
}

#[test]
fn each_direction_is_published_to_the_tap_and_fins_end_the_relay() {
    let (mut client, client_near) = pair();
    let (mut upstream, upstream_near) = pair();
    let recorder = Arc::new(SeenMessages::default());
    let tap = Tap::new(vec![recorder.clone()]);
    let log = Logger::new(LogFormat::Text, true, Sink::stdout().unwrap());
    let traffic = Traffic::default();
    let stop = || false;
    let cx = PumpContext {
        log: &log,
        traffic: &traffic,
        tap: &tap,
        tag: ConnTag {
            id: 1,
            peer: client.local_addr().unwrap(),
        },
        idle_timeout: Duration::from_secs(10),
        write_timeout: Duration::from_secs(10),
        framing: &Framing::Line,
        stop: &stop,
    };
    let now = Instant::now();
    let flow = |up| {
        let decoder = TextDecoder::new(DecodeMode::Auto);
        Flow::new(up, &Framing::Line, 1024, decoder, Shaping::default(), now)
    };
    let mut pump = Pump::new(
        Endpoint::Plain(client_near),
        Endpoint::Plain(upstream_near),
        (flow(true), flow(false)),
        None,
        fastrand::Rng::with_seed(1),
        None,
        1024,
    );
    let end = std::thread::scope(|s| {
        s.spawn(|| {
            let mut got = [0u8; 3];
            client.write_all(b"hi\n").unwrap();
            upstream.read_exact(&mut got).unwrap();
            assert_eq!(&got, b"hi\n");
            upstream.write_all(b"ok\n").unwrap();
            client.read_exact(&mut got).unwrap();
            assert_eq!(&got, b"ok\n");
            client.shutdown(Shutdown::Write).unwrap();
            upstream.shutdown(Shutdown::Write).unwrap();
        });
        pump.run(&cx)
    });
    assert!(matches!(end, Ending::Eof));
    let seen = recorder.0.lock().unwrap().clone();
    assert_eq!(seen, ["client:hi\n", "server:ok\n"]);
    let totals = traffic.totals().relay;
    assert_eq!((totals.up_messages, totals.up_bytes), (1, 3));
    assert_eq!((totals.down_messages, totals.down_bytes), (1, 3));
}
