//! A Modbus register table: coils, discrete inputs, holding and input
//! registers per unit id, read and written by Modbus TCP clients (under
//! `--framing len:u16be@4`) or Modbus RTU ones (under `--framing raw`,
//! CRC-checked), function codes 1–6, 15, 16 and 23. What enters is a
//! message no rule answered; what leaves is the answer's bytes, not yet
//! framed. One `Table` per server, shared by every connection behind an
//! `Arc`; each unit's values behind one lock, so a request is applied
//! whole (`unit.rs`). Loaded once at start: SIGHUP reloads the rules, never
//! the table, which keeps what clients wrote until the server stops.

mod file;
mod pdu;
mod unit;

use std::path::Path;
use std::sync::Arc;

use crc::{CRC_16_MODBUS, Crc};

use self::unit::Unit;
use crate::framing::Framing;
use crate::state::{Place, Store, Value};

const CRC: Crc<u16> = Crc::<u16>::new(&CRC_16_MODBUS);

/// How requests and answers are wrapped around a PDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wire {
    /// A message is MBAP without its length field (which the framing adds
    /// back): transaction id, protocol id 0, unit id, then the PDU.
    Tcp,
    /// A message is one read holding requests back to back: unit id, PDU,
    /// CRC-16/MODBUS low byte first. Unit 0 is a broadcast: done, not answered.
    Rtu,
}

/// The register table every connection of a server reads and writes.
#[derive(Debug)]
pub(crate) struct Table {
    wire: Wire,
    units: Vec<Unit>,
    /// Which of `units` answers each unit id: its own, else the default, else none.
    by_id: [Option<u16>; 256],
    /// The server's variables: registers with `follows = "global.NAME"` show them.
    store: Arc<Store>,
}

impl Table {
    /// The table of `--modbus FILE`, or else of the rules file's `[modbus]`
    /// section (`None`: neither has one), for a server under `framing`
    /// whose variables are `store` (already loaded from `--state-file`).
    /// The error says where and what, for the user.
    pub(crate) fn load(
        modbus_file: Option<&Path>,
        rules_file: Option<&Path>,
        framing: &Framing,
        store: &Arc<Store>,
    ) -> Result<Option<Self>, String> {
        let read = |path: &Path, what: &str| {
            std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read the {what} {}: {e}", path.display()))
        };
        let in_rules = match rules_file {
            Some(path) => file::in_rules(&read(path, "rules file")?, &path.display().to_string())?,
            None => None,
        };
        let parsed = match (modbus_file, in_rules) {
            (Some(path), None) => {
                file::alone(&read(path, "Modbus table")?, &path.display().to_string())?
            }
            (Some(_), Some(_)) => {
                return Err("--modbus FILE and a [modbus] table in the --rules file: give the table in one place".into());
            }
            (None, Some(parsed)) => parsed,
            (None, None) => return Ok(None),
        };
        let wire = match framing {
            Framing::Raw => Wire::Rtu,
            framing if framing.to_string() == "len:u16be@4" => Wire::Tcp,
            other => {
                return Err(format!(
                    "the Modbus table speaks Modbus TCP under --framing len:u16be@4 and RTU under --framing raw, not under --framing {other}"
                ));
            }
        };
        Ok(Some(Self::new(wire, parsed, Arc::clone(store))))
    }

    /// The table; a followed global variable still unset (no rule, no
    /// `--state-file` gave it a value) starts at its register's value.
    fn new(wire: Wire, parsed: file::Parsed, store: Arc<Store>) -> Self {
        let mut units = Vec::new();
        let mut by_id = [None; 256];
        if let Some(values) = parsed.default {
            units.push(Unit::new(values));
            by_id = [Some(0); 256];
        }
        for (id, values) in parsed.units {
            by_id[usize::from(id)] = Some(units.len() as u16);
            units.push(Unit::new(values));
        }
        {
            let mut tables = store.lock();
            for follow in units.iter().flat_map(Unit::follows) {
                // A reload whose rules do not name it must not forget it.
                tables.pinned.insert(follow.name.to_string());
                if tables.get(Place::Global, &follow.name).is_none() {
                    let first = Value::Int(i64::from(follow.first));
                    tables.set(Place::Global, &follow.name, first);
                }
            }
        }
        Self {
            wire,
            units,
            by_id,
            store,
        }
    }

    /// Appends the answer to `message` to `out`: nothing when the message is
    /// not a Modbus request this table should answer (another protocol id,
    /// a bad CRC, a unit id without a table, a broadcast).
    pub(crate) fn answer(&self, message: &[u8], out: &mut Vec<u8>) {
        match self.wire {
            Wire::Tcp => {
                // Transaction id, protocol id 0, unit id, function code at least.
                if message.len() < 6 || message[2..4] != [0, 0] {
                    return;
                }
                let Some(unit) = self.unit(message[4]) else {
                    return;
                };
                out.extend_from_slice(&message[..5]);
                respond(unit, &self.store, &message[5..], out);
            }
            Wire::Rtu => {
                let mut rest = message;
                while let Some(len) =
                    pdu::rtu_request_len(rest).filter(|&n| n >= 4 && n <= rest.len())
                {
                    let (frame, after) = rest.split_at(len);
                    rest = after;
                    let (body, crc) = frame.split_at(len - 2);
                    if CRC.checksum(body).to_le_bytes() != crc {
                        // A device ignores a frame it cannot trust, and what came with it.
                        return;
                    }
                    let Some(unit) = self.unit(body[0]) else {
                        continue;
                    };
                    let start = out.len();
                    out.push(body[0]);
                    respond(unit, &self.store, &body[1..], out);
                    if body[0] == 0 {
                        out.truncate(start);
                        continue;
                    }
                    let crc = CRC.checksum(&out[start..]);
                    out.extend_from_slice(&crc.to_le_bytes());
                }
            }
        }
    }

    /// Whether a register follows a global variable (then the server's
    /// reports count variable changes even without rules that remember).
    pub(crate) fn follows(&self) -> bool {
        self.units.iter().any(|u| !u.follows().is_empty())
    }

    fn unit(&self, id: u8) -> Option<&Unit> {
        self.by_id[usize::from(id)].map(|i| &self.units[usize::from(i)])
    }
}

/// Appends the answer PDU to request `pdu` (never empty).
fn respond(unit: &Unit, store: &Store, pdu: &[u8], out: &mut Vec<u8>) {
    let result = pdu::decode(pdu).and_then(|request| unit.apply(pdu, request, store, out));
    if let Err(code) = result {
        pdu::exception(pdu[0], code, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hex;
    use proptest::prelude::*;

    const TABLE: &str = r#"
[[modbus.holding_registers]]
address = 0
values = [21, 42]

[[modbus.holding_registers]]
address = 9
value = 1
read_only = true

[[modbus.unit.5.coils]]
address = 0
count = 8
"#;

    fn table(wire: Wire) -> Table {
        Table::new(
            wire,
            file::alone(TABLE, "t").unwrap(),
            Arc::new(Store::new(10)),
        )
    }

    fn ask(table: &Table, text: &str) -> String {
        let mut out = Vec::new();
        table.answer(&hex::parse(text).unwrap(), &mut out);
        let mut text = String::new();
        hex::push(&mut text, &out);
        text
    }

    #[test]
    fn tcp_answers_carry_the_transaction_and_unit_ids() {
        let table = table(Wire::Tcp);
        for (question, answer) in [
            (
                "12 34 00 00 01 03 00 00 00 02",
                "12 34 00 00 01 03 04 00 15 00 2a",
            ),
            // Any unit id without a table of its own gets the default one.
            (
                "00 07 00 00 ff 03 00 01 00 01",
                "00 07 00 00 ff 03 02 00 2a",
            ),
            ("00 01 00 00 05 01 00 00 00 08", "00 01 00 00 05 01 01 00"),
            // Unit 5's own table has no registers.
            ("00 01 00 00 05 03 00 00 00 01", "00 01 00 00 05 83 02"),
            ("00 01 00 00 01 06 00 09 00 02", "00 01 00 00 01 86 02"),
            ("00 01 00 00 01 2b 0e 01 00", "00 01 00 00 01 ab 01"),
            // Not Modbus (protocol id 1), or no function code: silence.
            ("00 01 00 01 01 03 00 00 00 01", ""),
            ("00 01 00 00 01", ""),
        ] {
            assert_eq!(ask(&table, question), answer, "asked {question}");
        }
    }

    /// A message from the network: mostly well-formed headers and function
    /// codes the table knows, with any bytes after them.
    fn any_message() -> impl Strategy<Value = Vec<u8>> {
        let function = prop_oneof![
            prop::sample::select(vec![1u8, 2, 3, 4, 5, 6, 15, 16, 23]),
            any::<u8>()
        ];
        (
            prop::sample::select(vec![0u8, 1, 5, 0xff]),
            function,
            prop::collection::vec(any::<u8>(), 0..24),
        )
            .prop_map(|(unit, function, rest)| {
                let mut message = vec![0, 1, 0, 0, unit, function];
                message.extend(rest);
                message
            })
    }

    proptest! {
        /// Whatever arrives, the table never panics; a Modbus TCP answer
        /// keeps the request's header and function code (or its exception),
        /// and every RTU answer carries a good CRC.
        #[test]
        fn any_bytes_get_a_well_formed_answer_or_none(message in any_message(), cut in 0usize..6) {
            let tcp = table(Wire::Tcp);
            let mut out = Vec::new();
            tcp.answer(&message, &mut out);
            if !out.is_empty() {
                prop_assert_eq!(&out[..5], &message[..5]);
                prop_assert!(out[5] == message[5] || out[5] == message[5] | 0x80, "{:02x?} -> {:02x?}", message, out);
                prop_assert!(out.len() >= 7);
            }
            let rtu = table(Wire::Rtu);
            // As RTU: the unit id onwards, with a CRC (or, cut short, without a whole one).
            let mut frame = message[4..].to_vec();
            frame.extend_from_slice(&CRC.checksum(&frame).to_le_bytes());
            frame.truncate(frame.len().saturating_sub(cut));
            out.clear();
            rtu.answer(&frame, &mut out);
            if !out.is_empty() {
                prop_assert_eq!(CRC.checksum(&out[..out.len() - 2]).to_le_bytes(), [out[out.len() - 2], out[out.len() - 1]]);
                prop_assert_eq!(out[0], frame[0]);
            }
        }
    }

    #[test]
    fn a_register_that_follows_a_global_reads_and_writes_it() {
        let store = Arc::new(Store::new(10));
        let text = "[[modbus.holding_registers]]\naddress = 0\nvalue = 5\nfollows = \"global.t\"\n";
        let table = Table::new(
            Wire::Tcp,
            file::alone(text, "t").unwrap(),
            Arc::clone(&store),
        );
        assert!(table.follows());
        // Unset at start: seeded with the block's value, not counted as a change.
        assert_eq!(store.get(Place::Global, "t"), Some(Value::Int(5)));
        let write = "00 01 00 00 01 06 00 00 01 00";
        assert_eq!(ask(&table, write), write);
        assert_eq!(store.get(Place::Global, "t"), Some(Value::Int(256)));
        assert_eq!(store.changes(), 1);
        store.set(Place::Global, "t", Value::Int(-2));
        let read = "00 01 00 00 01 03 00 00 00 01";
        assert_eq!(ask(&table, read), "00 01 00 00 01 03 02 ff fe");
        // Text, or a value no register holds: the last value stays.
        store.set(Place::Global, "t", Value::Text("hot".into()));
        assert_eq!(ask(&table, read), "00 01 00 00 01 03 02 ff fe");
        store.set(Place::Global, "t", Value::Int(65536));
        assert_eq!(ask(&table, read), "00 01 00 00 01 03 02 ff fe");
        // Reads change nothing; a refused write neither.
        assert_eq!(
            ask(&table, "00 01 00 00 01 10 00 00 00 02 04 00 01 00 02"),
            "00 01 00 00 01 90 02"
        );
        assert_eq!(store.get(Place::Global, "t"), Some(Value::Int(65536)));
        assert_eq!(store.changes(), 4);
    }

    #[test]
    fn rtu_checks_the_crc_and_answers_each_request_of_a_read() {
        let table = table(Wire::Rtu);
        // The spec's CRC example: 01 03 00 00 00 0A has C5 CD.
        assert_eq!(
            ask(&table, "01 03 00 00 00 02 C4 0B"),
            "01 03 04 00 15 00 2a 6a 28"
        );
        assert_eq!(ask(&table, "01 03 00 00 00 02 C4 0C"), "");
        let write = "01 06 00 01 00 07 99 c8";
        assert_eq!(
            ask(&table, &format!("{write} 01 03 00 01 00 01 D5 CA")),
            "01 06 00 01 00 07 99 c8 01 03 02 00 07 f9 86"
        );
        // A broadcast (unit 0) writes and says nothing.
        assert_eq!(ask(&table, "00 06 00 00 00 09 48 1d"), "");
        assert_eq!(
            ask(&table, "01 03 00 00 00 01 84 0A"),
            "01 03 02 00 09 78 42"
        );
    }
}
