//! Modbus PDUs, pure: a request's bytes (function code and data, no unit
//! id, no MBAP header, no CRC) in, a `Request` or the exception it earns
//! out; and the bytes of answers. The checks and their order follow the
//! Modbus Application Protocol v1.1b3's state diagrams: function code
//! (exception 1), then quantity and byte count (3), then addresses (2, in
//! `unit.rs`, which knows the table).

/// A Modbus exception code, as sent after the function code | 0x80.
// The spec's own names, which all start with "illegal".
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exception {
    /// 01: the function code is not one the table answers.
    IllegalFunction = 1,
    /// 02: an address outside the table, or a write to a read-only one.
    IllegalAddress = 2,
    /// 03: a quantity, byte count, coil value or register value not allowed.
    IllegalValue = 3,
}

/// Which bits a bit read or write is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bits {
    /// Read and write (functions 1, 5, 15).
    Coils,
    /// Read only (function 2).
    DiscreteInputs,
}

/// Which registers a register read is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Registers {
    /// Read and write (functions 3, 6, 16, 23).
    Holding,
    /// Read only (function 4).
    Input,
}

/// One request, its quantities already checked against the spec's limits;
/// `start + count` never passes 65536.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Request<'a> {
    /// Functions 1 and 2.
    ReadBits { bits: Bits, start: u16, count: u16 },
    /// Functions 3 and 4.
    ReadRegisters {
        registers: Registers,
        start: u16,
        count: u16,
    },
    /// Function 5.
    WriteCoil { address: u16, on: bool },
    /// Function 6.
    WriteRegister { address: u16, value: u16 },
    /// Function 15: `packed` holds `count` bits, least significant first.
    WriteCoils {
        start: u16,
        count: u16,
        packed: &'a [u8],
    },
    /// Function 16: `data` holds `count` big-endian registers.
    WriteRegisters {
        start: u16,
        count: u16,
        data: &'a [u8],
    },
    /// Function 23: the write happens before the read, as the spec says.
    ReadWriteRegisters {
        read_start: u16,
        read_count: u16,
        write_start: u16,
        write_count: u16,
        data: &'a [u8],
    },
}

/// The spec's limits on quantities per request.
const MAX_READ_BITS: u16 = 2000;
const MAX_READ_REGISTERS: u16 = 125;
const MAX_WRITE_BITS: u16 = 0x07B0;
const MAX_WRITE_REGISTERS: u16 = 123;
const MAX_READ_WRITE_WRITE: u16 = 121;

fn word(pdu: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([pdu[at], pdu[at + 1]])
}

/// `count` items from `start` are in 1..=max and inside the 65536
/// addresses; the address part is exception 2, the count part 3.
fn quantity(start: u16, count: u16, max: u16) -> Result<(), Exception> {
    if count == 0 || count > max {
        return Err(Exception::IllegalValue);
    }
    if u32::from(start) + u32::from(count) > 0x1_0000 {
        return Err(Exception::IllegalAddress);
    }
    Ok(())
}

/// Decodes `pdu` (function code first; never empty: the caller stays
/// silent on an empty one). A PDU of the wrong length for its function is
/// exception 3.
pub(crate) fn decode(pdu: &[u8]) -> Result<Request<'_>, Exception> {
    let function = pdu[0];
    let fixed = |len: usize| {
        if pdu.len() == len {
            Ok(())
        } else {
            Err(Exception::IllegalValue)
        }
    };
    match function {
        1..=4 => {
            fixed(5)?;
            let (start, count) = (word(pdu, 1), word(pdu, 3));
            if function <= 2 {
                quantity(start, count, MAX_READ_BITS)?;
                let bits = if function == 1 {
                    Bits::Coils
                } else {
                    Bits::DiscreteInputs
                };
                Ok(Request::ReadBits { bits, start, count })
            } else {
                quantity(start, count, MAX_READ_REGISTERS)?;
                let registers = if function == 3 {
                    Registers::Holding
                } else {
                    Registers::Input
                };
                Ok(Request::ReadRegisters {
                    registers,
                    start,
                    count,
                })
            }
        }
        5 => {
            fixed(5)?;
            let on = match word(pdu, 3) {
                0xFF00 => true,
                0x0000 => false,
                _ => return Err(Exception::IllegalValue),
            };
            Ok(Request::WriteCoil {
                address: word(pdu, 1),
                on,
            })
        }
        6 => {
            fixed(5)?;
            Ok(Request::WriteRegister {
                address: word(pdu, 1),
                value: word(pdu, 3),
            })
        }
        15 | 16 => {
            if pdu.len() < 6 {
                return Err(Exception::IllegalValue);
            }
            let (start, count, bytes) = (word(pdu, 1), word(pdu, 3), pdu[5]);
            let data = &pdu[6..];
            if function == 15 {
                if count == 0 || count > MAX_WRITE_BITS || u16::from(bytes) != count.div_ceil(8) {
                    return Err(Exception::IllegalValue);
                }
            } else if count == 0
                || count > MAX_WRITE_REGISTERS
                || usize::from(bytes) != 2 * usize::from(count)
            {
                return Err(Exception::IllegalValue);
            }
            if data.len() != usize::from(bytes) {
                return Err(Exception::IllegalValue);
            }
            quantity(start, count, u16::MAX)?;
            Ok(if function == 15 {
                Request::WriteCoils {
                    start,
                    count,
                    packed: data,
                }
            } else {
                Request::WriteRegisters { start, count, data }
            })
        }
        23 => {
            if pdu.len() < 10 {
                return Err(Exception::IllegalValue);
            }
            let (read_start, read_count) = (word(pdu, 1), word(pdu, 3));
            let (write_start, write_count, bytes) = (word(pdu, 5), word(pdu, 7), pdu[9]);
            let data = &pdu[10..];
            if read_count == 0
                || read_count > MAX_READ_REGISTERS
                || write_count == 0
                || write_count > MAX_READ_WRITE_WRITE
                || usize::from(bytes) != 2 * usize::from(write_count)
                || data.len() != usize::from(bytes)
            {
                return Err(Exception::IllegalValue);
            }
            quantity(write_start, write_count, u16::MAX)?;
            quantity(read_start, read_count, u16::MAX)?;
            Ok(Request::ReadWriteRegisters {
                read_start,
                read_count,
                write_start,
                write_count,
                data,
            })
        }
        _ => Err(Exception::IllegalFunction),
    }
}

/// How many bytes the RTU request starting at `frame` (unit id, function
/// code, ...) takes with its CRC, for cutting requests that arrive back to
/// back in one read; `None` when too little has arrived to tell. An
/// unknown function has no known length: the rest of the read.
pub(crate) fn rtu_request_len(frame: &[u8]) -> Option<usize> {
    let function = *frame.get(1)?;
    match function {
        1..=6 => Some(8),
        15 | 16 => frame.get(6).map(|&n| 9 + usize::from(n)),
        23 => frame.get(10).map(|&n| 13 + usize::from(n)),
        _ => Some(frame.len()),
    }
}

/// Appends the exception answer to `function`.
pub(crate) fn exception(function: u8, code: Exception, out: &mut Vec<u8>) {
    out.extend_from_slice(&[function | 0x80, code as u8]);
}

/// Bit `i` of a packed bit field (least significant first).
pub(crate) fn packed_bit(packed: &[u8], i: usize) -> bool {
    packed[i / 8] & (1 << (i % 8)) != 0
}

/// Register `i` of big-endian register data.
pub(crate) fn register(data: &[u8], i: usize) -> u16 {
    word(data, 2 * i)
}

#[cfg(test)]
mod tests;
