//! A recorded connection as something to play: what the client sent, each
//! followed by what the server answered to it.

use std::collections::HashMap;

use crate::capture::transcript::{Conn, Transcript};
use crate::tap::Side;

/// One client message and the server's messages after it (before the
/// next client message). The first exchange of a connection has no message:
/// its answers are what the server said first (a greeting).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Exchange {
    /// When it was sent, in ms since the transcript started, and the bytes.
    pub send: Option<(u64, Vec<u8>)>,
    pub answers: Vec<Vec<u8>>,
}

/// `conn`'s messages as exchanges, the greeting's first.
pub(super) fn exchanges(conn: &Conn) -> Vec<Exchange> {
    let mut out = vec![Exchange {
        send: None,
        answers: Vec::new(),
    }];
    for message in &conn.messages {
        match message.from {
            Side::Client => out.push(Exchange {
                send: Some((message.t_ms, message.bytes.clone())),
                answers: Vec::new(),
            }),
            Side::Server => {
                if let Some(last) = out.last_mut() {
                    last.answers.push(message.bytes.clone());
                }
            }
        }
    }
    pair_pipelined(&mut out);
    out
}

/// A client that sends several messages before the first answer (a
/// pipelining client, seen through the relay) is recorded as N messages
/// then N answers: each message gets one, in order, as a server that
/// answers in turn gave them. A run of any other shape keeps its answers
/// on its last message.
fn pair_pipelined(exchanges: &mut [Exchange]) {
    let mut start = 1;
    for last in 1..exchanges.len() {
        if exchanges[last].answers.is_empty() {
            continue;
        }
        let run = last + 1 - start;
        if run > 1 && exchanges[last].answers.len() == run {
            let answers = std::mem::take(&mut exchanges[last].answers);
            for (exchange, answer) in exchanges[start..=last].iter_mut().zip(answers) {
                exchange.answers.push(answer);
            }
        }
        start = last + 1;
    }
}

/// What the recorded server did, for standing in for it: its greeting
/// (what it said before the first message, on the first connection), and
/// for each distinct message the first answer it gave to it, in the order
/// first seen. UDP peers count too: they had no greeting.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct RecordedServer {
    pub greeting: Option<Vec<u8>>,
    pub answers: Vec<(Vec<u8>, Vec<u8>)>,
}

pub(super) fn served(transcript: &Transcript) -> RecordedServer {
    let mut served = RecordedServer::default();
    let mut seen: HashMap<Vec<u8>, ()> = HashMap::new();
    for conn in &transcript.conns {
        let exchanges = exchanges(conn);
        if served.greeting.is_none() && conn.protocol != "udp" && !exchanges[0].answers.is_empty() {
            served.greeting = Some(exchanges[0].answers.concat());
        }
        for exchange in exchanges {
            let Some((_, message)) = exchange.send else {
                continue;
            };
            if seen.insert(message.clone(), ()).is_none() {
                served.answers.push((message, exchange.answers.concat()));
            }
        }
    }
    served
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::transcript::Message;

    fn conn(messages: &[(Side, &str)]) -> Conn {
        Conn {
            id: 1,
            opened_ms: 0,
            peer: None,
            protocol: "tcp".into(),
            messages: messages
                .iter()
                .enumerate()
                .map(|(i, (from, text))| Message {
                    t_ms: i as u64,
                    from: *from,
                    bytes: text.as_bytes().to_vec(),
                })
                .collect(),
            close: None,
        }
    }

    #[test]
    fn answers_follow_their_message_and_the_greeting_comes_first() {
        use Side::{Client, Server};
        let c = conn(&[
            (Server, "hi\n"),
            (Client, "A\n"),
            (Server, "1\n"),
            (Server, "2\n"),
            (Client, "B\n"),
            (Client, "A\n"),
            (Server, "3\n"),
        ]);
        let ex = exchanges(&c);
        assert_eq!(ex.len(), 4);
        assert_eq!(ex[0].answers, [b"hi\n".to_vec()]);
        assert_eq!(ex[1].answers, [b"1\n".to_vec(), b"2\n".to_vec()]);
        assert!(ex[2].answers.is_empty());
        let transcript = Transcript {
            mode: "server".into(),
            framing: crate::framing::Framing::Line,
            conns: vec![c],
        };
        let served = served(&transcript);
        assert_eq!(served.greeting.as_deref(), Some(&b"hi\n"[..]));
        // The first answer to A wins; B was answered with nothing.
        assert_eq!(
            served.answers,
            [
                (b"A\n".to_vec(), b"1\n2\n".to_vec()),
                (b"B\n".to_vec(), Vec::new())
            ]
        );
    }

    #[test]
    fn pipelined_messages_get_one_answer_each_in_order() {
        use Side::{Client, Server};
        let c = conn(&[
            (Client, "READ\n"),
            (Client, "SET 7\n"),
            (Server, "VALUE\n"),
            (Server, "OK\n"),
            (Client, "X\n"),
            (Client, "Y\n"),
            (Server, "both\n"),
        ]);
        let answers: Vec<Vec<Vec<u8>>> = exchanges(&c).into_iter().map(|e| e.answers).collect();
        let bytes = |s: &str| vec![s.as_bytes().to_vec()];
        assert_eq!(
            answers,
            [
                vec![],
                bytes("VALUE\n"),
                bytes("OK\n"),
                vec![],
                bytes("both\n")
            ]
        );
    }
}
