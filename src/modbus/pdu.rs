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
mod tests {
    use super::*;
    use crate::hex;

    fn pdu(text: &str) -> Vec<u8> {
        hex::parse(text).unwrap()
    }

    #[test]
    fn reads_decode_with_their_limits() {
        let cases: &[(&str, Result<Request<'_>, Exception>)] = &[
            (
                "03 00 6B 00 03",
                Ok(Request::ReadRegisters {
                    registers: Registers::Holding,
                    start: 0x6B,
                    count: 3,
                }),
            ),
            (
                "04 00 08 00 01",
                Ok(Request::ReadRegisters {
                    registers: Registers::Input,
                    start: 8,
                    count: 1,
                }),
            ),
            (
                "01 00 13 00 13",
                Ok(Request::ReadBits {
                    bits: Bits::Coils,
                    start: 0x13,
                    count: 19,
                }),
            ),
            (
                "02 00 C4 00 16",
                Ok(Request::ReadBits {
                    bits: Bits::DiscreteInputs,
                    start: 0xC4,
                    count: 22,
                }),
            ),
            (
                "03 00 00 00 7D",
                Ok(Request::ReadRegisters {
                    registers: Registers::Holding,
                    start: 0,
                    count: 125,
                }),
            ),
            ("03 00 00 00 7E", Err(Exception::IllegalValue)),
            ("03 00 00 00 00", Err(Exception::IllegalValue)),
            ("01 00 00 07 D1", Err(Exception::IllegalValue)),
            ("03 FF FF 00 02", Err(Exception::IllegalAddress)),
            (
                "03 FF FF 00 01",
                Ok(Request::ReadRegisters {
                    registers: Registers::Holding,
                    start: 0xFFFF,
                    count: 1,
                }),
            ),
            ("03 00 00 00", Err(Exception::IllegalValue)),
            ("03 00 00 00 01 00", Err(Exception::IllegalValue)),
            ("11", Err(Exception::IllegalFunction)),
            ("2B 0E 01 00", Err(Exception::IllegalFunction)),
        ];
        for (text, expected) in cases {
            let bytes = pdu(text);
            assert_eq!(decode(&bytes), *expected, "{text}");
        }
    }

    #[test]
    fn writes_decode_and_check_their_byte_counts() {
        let on = pdu("05 00 AC FF 00");
        assert_eq!(
            decode(&on),
            Ok(Request::WriteCoil {
                address: 0xAC,
                on: true
            })
        );
        let off = pdu("05 00 AC 00 00");
        assert_eq!(
            decode(&off),
            Ok(Request::WriteCoil {
                address: 0xAC,
                on: false
            })
        );
        assert_eq!(decode(&pdu("05 00 AC 00 01")), Err(Exception::IllegalValue));
        let single = pdu("06 00 01 00 03");
        assert_eq!(
            decode(&single),
            Ok(Request::WriteRegister {
                address: 1,
                value: 3
            })
        );
        let coils = pdu("0F 00 13 00 0A 02 CD 01");
        assert_eq!(
            decode(&coils),
            Ok(Request::WriteCoils {
                start: 0x13,
                count: 10,
                packed: &coils[6..]
            })
        );
        // Ten coils need two bytes, not one; nor three.
        assert_eq!(
            decode(&pdu("0F 00 13 00 0A 01 CD")),
            Err(Exception::IllegalValue)
        );
        assert_eq!(
            decode(&pdu("0F 00 13 00 0A 03 CD 01 00")),
            Err(Exception::IllegalValue)
        );
        let registers = pdu("10 00 01 00 02 04 00 0A 01 02");
        assert_eq!(
            decode(&registers),
            Ok(Request::WriteRegisters {
                start: 1,
                count: 2,
                data: &registers[6..]
            })
        );
        // The byte count disagrees with the data that came.
        assert_eq!(
            decode(&pdu("10 00 01 00 02 04 00 0A 01")),
            Err(Exception::IllegalValue)
        );
        assert_eq!(
            decode(&pdu("10 00 01 00 7C F8")),
            Err(Exception::IllegalValue)
        );
        assert_eq!(
            decode(&pdu("10 FF FF 00 02 04 00 0A 01 02")),
            Err(Exception::IllegalAddress)
        );
        let both = pdu("17 00 03 00 06 00 0E 00 03 06 00 FF 00 FF 00 FF");
        assert_eq!(
            decode(&both),
            Ok(Request::ReadWriteRegisters {
                read_start: 3,
                read_count: 6,
                write_start: 14,
                write_count: 3,
                data: &both[10..],
            })
        );
        assert_eq!(
            decode(&pdu("17 00 03 00 06 00 0E 00 03 04 00 FF 00 FF")),
            Err(Exception::IllegalValue)
        );
    }

    #[test]
    fn packed_bits_and_registers_read_as_the_spec_sends_them() {
        // The spec's example: coils 20..38 = CD 6B 05.
        let packed = [0xCD, 0x6B, 0x05];
        let bits: Vec<bool> = (0..19).map(|i| packed_bit(&packed, i)).collect();
        assert_eq!(
            &bits[..8],
            [true, false, true, true, false, false, true, true]
        );
        assert!(bits[16] && !bits[17] && bits[18]);
        assert_eq!(register(&[0x12, 0x34, 0xAB, 0xCD], 1), 0xABCD);
        let mut out = Vec::new();
        exception(0x03, Exception::IllegalAddress, &mut out);
        assert_eq!(out, [0x83, 0x02]);
    }

    #[test]
    fn rtu_requests_are_cut_by_their_function() {
        assert_eq!(rtu_request_len(&pdu("01 03 00 00 00 0A C5 CD")), Some(8));
        assert_eq!(rtu_request_len(&pdu("01 10 00 01 00 02 04")), Some(13));
        assert_eq!(rtu_request_len(&pdu("01 10 00 01 00")), None);
        assert_eq!(
            rtu_request_len(&pdu("01 17 00 03 00 06 00 0E 00 03 06")),
            Some(19)
        );
        assert_eq!(rtu_request_len(&pdu("01 2B 0E 01 00 AA BB")), Some(7));
        assert_eq!(rtu_request_len(&pdu("01")), None);
    }
}
