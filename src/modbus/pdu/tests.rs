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
