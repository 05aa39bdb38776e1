//! One unit id's four tables of values (coils, discrete inputs, holding and
//! input registers) and what a request does to them. The values live
//! behind one lock per unit, so a request is applied whole: a write of
//! several registers is seen by other connections entirely or not at all,
//! and function 23's write and read happen in one step.

use std::sync::Mutex;

use super::pdu::{self, Bits, Exception, Registers, Request};
use crate::state::{Place, Store, Value};
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
    /// `follows = "global.NAME"`: the NAME this one-address block shows.
    pub follows: Option<Box<str>>,
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

    /// The value at `address`, to change in place, if the table has it.
    fn slot(&mut self, address: u16) -> Option<&mut T> {
        let i = self
            .blocks
            .partition_point(|b| b.end() <= u32::from(address));
        let block = self.blocks.get_mut(i)?;
        let at = usize::from(address.checked_sub(block.start)?);
        block.values.get_mut(at)
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

/// A register that shows `global.NAME` (`follows` in the table file).
#[derive(Debug, Clone)]
pub(crate) struct Follow {
    /// A holding register (else an input one, which Modbus cannot write).
    pub holding: bool,
    pub address: u16,
    pub name: Box<str>,
    /// Its value in the table file, the variable's first value if unset.
    pub first: u16,
}

impl Follow {
    fn slot<'a>(&self, values: &'a mut Values) -> Option<&'a mut u16> {
        let area = if self.holding {
            &mut values.holding
        } else {
            &mut values.input
        };
        area.slot(self.address)
    }
}

/// One unit id's device: its values behind the lock that makes each request whole.
#[derive(Debug)]
pub(crate) struct Unit {
    values: Mutex<Values>,
    /// The registers that follow a global variable; most units have none
    /// and never touch the store.
    follows: Vec<Follow>,
}

impl Unit {
    pub(crate) fn new(values: Values) -> Self {
        let mut follows = Vec::new();
        for (holding, area) in [(true, &values.holding), (false, &values.input)] {
            for block in &area.blocks {
                if let (Some(name), Some(&first)) = (&block.follows, block.values.first()) {
                    follows.push(Follow {
                        holding,
                        address: block.start,
                        name: name.clone(),
                        first,
                    });
                }
            }
        }
        Self {
            values: Mutex::new(values),
            follows,
        }
    }

    /// The registers of this unit that follow a global variable.
    pub(crate) fn follows(&self) -> &[Follow] {
        &self.follows
    }

    /// A copy of the values now, for tests.
    #[cfg(test)]
    pub(crate) fn snapshot(&self) -> Values {
        sync::lock(&self.values).clone()
    }

    /// Applies `request` and appends its answer PDU (function code first)
    /// to `out`; on an exception `out` is as it was and nothing changed.
    /// Registers that follow `global.NAME` take the variable's value from
    /// `store` first and give it back if the request changed it, under one
    /// store lock, so a rule sees the request whole or not at all.
    pub(crate) fn apply(
        &self,
        pdu: &[u8],
        request: Request<'_>,
        store: &Store,
        out: &mut Vec<u8>,
    ) -> Result<(), Exception> {
        let mut values = sync::lock(&self.values);
        if self.follows.is_empty() {
            return apply(&mut values, pdu, request, out);
        }
        let mut tables = store.lock();
        let mut before = Vec::with_capacity(self.follows.len());
        for follow in &self.follows {
            let shown = tables
                .get(Place::Global, &follow.name)
                .and_then(register_of);
            let Some(slot) = follow.slot(&mut values) else {
                before.push(None);
                continue;
            };
            // A variable that is text or does not fit: the register keeps its last value.
            if let Some(value) = shown {
                *slot = value;
            }
            before.push(Some(*slot));
        }
        let result = apply(&mut values, pdu, request, out);
        let mut changed = 0;
        for (follow, old) in self.follows.iter().zip(before) {
            let Some(now) = follow.slot(&mut values).map(|v| *v) else {
                continue;
            };
            if old != Some(now) {
                tables.set(Place::Global, &follow.name, Value::Int(i64::from(now)));
                changed += 1;
            }
        }
        drop(tables);
        store.count_changes(changed);
        result
    }
}

/// What a register shows of a variable: an integer 0..=65535, or a
/// negative one down to -32768 as its two's complement; `None` for text or
/// an integer that does not fit.
pub(crate) fn register_of(value: &Value) -> Option<u16> {
    match *value {
        Value::Int(n) => u16::try_from(n)
            .ok()
            .or_else(|| i16::try_from(n).ok().map(|n| n as u16)),
        Value::Text(_) => None,
    }
}

/// `Unit::apply` on values already locked.
fn apply(
    values: &mut Values,
    pdu: &[u8],
    request: Request<'_>,
    out: &mut Vec<u8>,
) -> Result<(), Exception> {
    let function = pdu[0];
    let at = out.len();
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
                .and_then(|()| write_registers(&mut values.holding, write_start, write_count, data))
                .and_then(|()| {
                    out.extend_from_slice(&[function, (2 * read_count) as u8]);
                    values.holding.read(read_start, read_count, |v| {
                        out.extend_from_slice(&v.to_be_bytes())
                    })
                })
        }
    };
    if result.is_err() {
        out.truncate(at);
    }
    result
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
mod tests;
