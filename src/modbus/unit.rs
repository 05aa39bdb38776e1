//! One unit id's four tables of values (coils, discrete inputs, holding and
//! input registers) and what a request does to them. The values live
//! behind one lock per unit, so a request is applied whole: a write of
//! several registers is seen by other connections entirely or not at all,
//! and function 23's write and read happen in one step.

use std::sync::Mutex;

use super::pdu::{self, Bits, Exception, Registers, Request};
use crate::sync;

/// A run of consecutive addresses and their values, as one `[[modbus.*]]`
/// block of the table file gave them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Block<T> {
    pub start: u16,
    pub values: Vec<T>,
    /// Writes refuse values outside `min..=max` with exception 3 (registers only).
    pub min: u16,
    pub max: u16,
    /// Writes get exception 2, as to an address that is not there.
    pub read_only: bool,
}

impl<T> Block<T> {
    /// One past the last address, as u32 so 65535 has an end.
    fn end(&self) -> u32 {
        u32::from(self.start) + self.values.len() as u32
    }
}

/// One kind of value of one unit: its blocks sorted by address, none overlapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Area<T> {
    blocks: Vec<Block<T>>,
}

impl<T: Copy> Area<T> {
    /// `blocks` sorted; the caller has checked that none overlap.
    pub(crate) fn new(mut blocks: Vec<Block<T>>) -> Self {
        blocks.sort_by_key(|b| b.start);
        Self { blocks }
    }

    /// Calls `each(block, range in block)` for the pieces that cover
    /// `count` addresses from `start`, in order; exception 2 when an
    /// address is not in the table (then `each` is not called at all).
    fn pieces(
        &self,
        start: u16,
        count: u16,
        mut each: impl FnMut(&Block<T>, std::ops::Range<usize>),
    ) -> Result<(), Exception> {
        let end = u32::from(start) + u32::from(count);
        let first = self.blocks.partition_point(|b| b.end() <= u32::from(start));
        // First pass: every address is there.
        let mut at = u32::from(start);
        for block in &self.blocks[first..] {
            if at >= end || u32::from(block.start) > at {
                break;
            }
            at = block.end().min(end);
        }
        if at < end {
            return Err(Exception::IllegalAddress);
        }
        let mut at = u32::from(start);
        for block in &self.blocks[first..] {
            if at >= end {
                break;
            }
            let to = block.end().min(end);
            let from = (at - u32::from(block.start)) as usize;
            each(block, from..(to - u32::from(block.start)) as usize);
            at = to;
        }
        Ok(())
    }

    /// Checks a write of `count` values from `start`: every address there
    /// and writable (else exception 2), `valid(block, i)` for each value
    /// (else exception 3).
    fn check_write(
        &self,
        start: u16,
        count: u16,
        mut valid: impl FnMut(&Block<T>, usize) -> bool,
    ) -> Result<(), Exception> {
        let mut read_only = false;
        let mut i = 0;
        let mut invalid = false;
        self.pieces(start, count, |block, range| {
            read_only |= block.read_only;
            for _ in range {
                invalid |= !valid(block, i);
                i += 1;
            }
        })?;
        if read_only {
            Err(Exception::IllegalAddress)
        } else if invalid {
            Err(Exception::IllegalValue)
        } else {
            Ok(())
        }
    }

    /// Writes `value(i)` to the `count` addresses from `start`, already checked.
    fn write(&mut self, start: u16, count: u16, mut value: impl FnMut(usize) -> T) {
        let end = u32::from(start) + u32::from(count);
        let mut i = 0;
        for block in &mut self.blocks {
            let (from, to) = (u32::from(block.start), block.end());
            if to <= u32::from(start) || from >= end {
                continue;
            }
            let lo = u32::from(start).max(from);
            let hi = end.min(to);
            for slot in &mut block.values[(lo - from) as usize..(hi - from) as usize] {
                *slot = value(i);
                i += 1;
            }
        }
    }

    /// The values of the `count` addresses from `start`, to `each` in order.
    fn read(&self, start: u16, count: u16, mut each: impl FnMut(T)) -> Result<(), Exception> {
        self.pieces(start, count, |block, range| {
            block.values[range].iter().for_each(|&v| each(v));
        })
    }

    /// The value at `address`, if the table has it (for tests and the log).
    #[cfg(test)]
    pub(crate) fn get(&self, address: u16) -> Option<T> {
        let mut value = None;
        self.read(address, 1, |v| value = Some(v)).ok()?;
        value
    }
}

/// A unit's four areas, as they stand.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Values {
    pub coils: Area<bool>,
    pub discrete_inputs: Area<bool>,
    pub holding: Area<u16>,
    pub input: Area<u16>,
}

impl<T> Default for Area<T> {
    fn default() -> Self {
        Self { blocks: Vec::new() }
    }
}

/// One unit id's device: its values behind the lock that makes each request whole.
#[derive(Debug)]
pub(crate) struct Unit {
    values: Mutex<Values>,
}

impl Unit {
    pub(crate) fn new(values: Values) -> Self {
        Self {
            values: Mutex::new(values),
        }
    }

    /// A copy of the values now, for tests.
    #[cfg(test)]
    pub(crate) fn snapshot(&self) -> Values {
        sync::lock(&self.values).clone()
    }

    /// Applies `request` and appends its answer PDU (function code first)
    /// to `out`; on an exception `out` is as it was and nothing changed.
    pub(crate) fn apply(
        &self,
        pdu: &[u8],
        request: Request<'_>,
        out: &mut Vec<u8>,
    ) -> Result<(), Exception> {
        let function = pdu[0];
        let at = out.len();
        let mut values = sync::lock(&self.values);
        let result = match request {
            Request::ReadBits { bits, start, count } => {
                let area = match bits {
                    Bits::Coils => &values.coils,
                    Bits::DiscreteInputs => &values.discrete_inputs,
                };
                // Packed as Modbus sends bits: eight a byte, the first in the least significant place.
                let bytes = usize::from(count).div_ceil(8);
                out.extend_from_slice(&[function, bytes as u8]);
                let base = out.len();
                out.resize(base + bytes, 0);
                let mut i = 0;
                area.read(start, count, |on| {
                    out[base + i / 8] |= u8::from(on) << (i % 8);
                    i += 1;
                })
            }
            Request::ReadRegisters {
                registers,
                start,
                count,
            } => {
                let area = match registers {
                    Registers::Holding => &values.holding,
                    Registers::Input => &values.input,
                };
                out.extend_from_slice(&[function, (2 * count) as u8]);
                area.read(start, count, |v| out.extend_from_slice(&v.to_be_bytes()))
            }
            Request::WriteCoil { address, on } => {
                values.coils.check_write(address, 1, |_, _| true).map(|()| {
                    values.coils.write(address, 1, |_| on);
                    out.extend_from_slice(pdu);
                })
            }
            Request::WriteRegister { address, value } => values
                .holding
                .check_write(address, 1, |b, _| (b.min..=b.max).contains(&value))
                .map(|()| {
                    values.holding.write(address, 1, |_| value);
                    out.extend_from_slice(pdu);
                }),
            Request::WriteCoils {
                start,
                count,
                packed,
            } => values
                .coils
                .check_write(start, count, |_, _| true)
                .map(|()| {
                    values
                        .coils
                        .write(start, count, |i| pdu::packed_bit(packed, i));
                    out.extend_from_slice(&pdu[..5]);
                }),
            Request::WriteRegisters { start, count, data } => {
                write_registers(&mut values.holding, start, count, data).map(|()| {
                    out.extend_from_slice(&pdu[..5]);
                })
            }
            Request::ReadWriteRegisters {
                read_start,
                read_count,
                write_start,
                write_count,
                data,
            } => {
                // Both parts checked before the write, so a bad read leaves the registers as they were.
                values
                    .holding
                    .pieces(read_start, read_count, |_, _| {})
                    .and_then(|()| {
                        write_registers(&mut values.holding, write_start, write_count, data)
                    })
                    .and_then(|()| {
                        out.extend_from_slice(&[function, (2 * read_count) as u8]);
                        values.holding.read(read_start, read_count, |v| {
                            out.extend_from_slice(&v.to_be_bytes())
                        })
                    })
            }
        };
        drop(values);
        if result.is_err() {
            out.truncate(at);
        }
        result
    }
}

/// Function 16's (and 23's) write: all the registers or none.
fn write_registers(
    area: &mut Area<u16>,
    start: u16,
    count: u16,
    data: &[u8],
) -> Result<(), Exception> {
    area.check_write(start, count, |b, i| {
        (b.min..=b.max).contains(&pdu::register(data, i))
    })?;
    area.write(start, count, |i| pdu::register(data, i));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hex;

    fn block<T: Copy>(start: u16, values: &[T]) -> Block<T> {
        Block {
            start,
            values: values.to_vec(),
            min: 0,
            max: u16::MAX,
            read_only: false,
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
        match pdu::decode(&bytes).and_then(|r| unit.apply(&bytes, r, &mut out)) {
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
}
