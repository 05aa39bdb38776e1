use super::*;
use crate::hex;

fn block<T: Copy>(start: u16, values: &[T]) -> Block<T> {
    Block {
        start,
        values: values.to_vec(),
        min: 0,
        max: u16::MAX,
        read_only: false,
        follows: None,
    }
}

/// Holding 0..4 = 10 20 30 40, 4..6 = 50 60 (a second block, adjacent),
/// 100 read-only, 200 limited to 0..=100; coils 0..10; input 0 = 7.
fn unit() -> Unit {
    let mut limited = block(200, &[5]);
    limited.max = 100;
    let mut fixed = block(100, &[1]);
    fixed.read_only = true;
    Unit::new(Values {
        coils: Area::new(vec![block(0, &[false; 10])]),
        discrete_inputs: Area::new(vec![block(0, &[true, false, true])]),
        holding: Area::new(vec![
            block(4, &[50, 60]),
            block(0, &[10, 20, 30, 40]),
            fixed,
            limited,
        ]),
        input: Area::new(vec![block(0, &[7])]),
    })
}

/// Sends the PDU `text` to `unit` and gives the answer PDU as hex.
fn ask(unit: &Unit, text: &str) -> String {
    let bytes = hex::parse(text).unwrap();
    let mut out = Vec::new();
    let store = Store::new(10);
    match pdu::decode(&bytes).and_then(|r| unit.apply(&bytes, r, &store, &mut out)) {
        Ok(()) => {}
        Err(e) => pdu::exception(bytes[0], e, &mut out),
    }
    let mut text = String::new();
    hex::push(&mut text, &out);
    text
}

#[test]
fn reads_span_adjacent_blocks_and_stop_at_holes() {
    let unit = unit();
    assert_eq!(
        ask(&unit, "03 00 02 00 04"),
        "03 08 00 1e 00 28 00 32 00 3c"
    );
    assert_eq!(ask(&unit, "03 00 00 00 07"), "83 02");
    assert_eq!(ask(&unit, "03 00 64 00 01"), "03 02 00 01");
    assert_eq!(ask(&unit, "04 00 00 00 01"), "04 02 00 07");
    assert_eq!(ask(&unit, "04 00 01 00 01"), "84 02");
    assert_eq!(ask(&unit, "02 00 00 00 03"), "02 01 05");
    assert_eq!(ask(&unit, "01 00 00 00 0B"), "81 02");
    assert_eq!(ask(&unit, "07"), "87 01");
}

#[test]
fn writes_are_read_back_and_refused_whole() {
    let unit = unit();
    assert_eq!(ask(&unit, "06 00 01 04 D2"), "06 00 01 04 d2");
    assert_eq!(ask(&unit, "03 00 01 00 01"), "03 02 04 d2");
    assert_eq!(
        ask(&unit, "10 00 03 00 02 04 00 0A 00 0B"),
        "10 00 03 00 02"
    );
    assert_eq!(ask(&unit, "03 00 03 00 02"), "03 04 00 0a 00 0b");
    // A write that runs off the table changes nothing, not even its first registers.
    assert_eq!(ask(&unit, "10 00 05 00 02 04 00 01 00 02"), "90 02");
    assert_eq!(unit.snapshot().holding.get(5), Some(60));
    // Read-only: exception 2; out of min..max: exception 3.
    assert_eq!(ask(&unit, "06 00 64 00 02"), "86 02");
    assert_eq!(ask(&unit, "06 00 C8 00 65"), "86 03");
    assert_eq!(ask(&unit, "06 00 C8 00 64"), "06 00 c8 00 64");
    assert_eq!(ask(&unit, "05 00 03 FF 00"), "05 00 03 ff 00");
    assert_eq!(ask(&unit, "0F 00 00 00 0A 02 01 02"), "0f 00 00 00 0a");
    assert_eq!(ask(&unit, "01 00 00 00 0A"), "01 02 01 02");
    // Function 23 writes first, then reads what it wrote.
    assert_eq!(
        ask(&unit, "17 00 00 00 02 00 01 00 01 02 00 63"),
        "17 04 00 0a 00 63"
    );
    // ... and with a read out of the table, writes nothing.
    assert_eq!(ask(&unit, "17 00 05 00 09 00 00 00 01 02 00 01"), "97 02");
    assert_eq!(unit.snapshot().holding.get(0), Some(10));
}
