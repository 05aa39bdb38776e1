//! The checksums a template can put on the wire, over the bytes rendered
//! before them: each a name, an algorithm of the `crc` crate's catalogue
//! (or a plain sum), and the byte order devices send it in. Reflected CRCs
//! (Modbus, CRC-32) go low byte first, as Modbus RTU and Ethernet send
//! them; the unreflected CCITT one high byte first, as X.25-style framings do.

use crc::{CRC_16_IBM_3740, CRC_16_MODBUS, CRC_32_ISO_HDLC, Crc};

/// A checksum placeholder: `{crc16_modbus}`, `{crc16_ccitt}`, `{crc32}`,
/// `{sum8}`, `{xor8}`, `{lrc}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Checksum {
    /// CRC-16/MODBUS (poly 0x8005 reflected, init 0xFFFF), low byte first.
    Crc16Modbus,
    /// CRC-16/IBM-3740, the one most tools call CRC-16/CCITT-FALSE (poly
    /// 0x1021, init 0xFFFF, not reflected), high byte first.
    Crc16Ccitt,
    /// CRC-32/ISO-HDLC, the CRC-32 of zlib, Ethernet and PNG, low byte first.
    Crc32,
    /// The sum of the bytes, modulo 256.
    Sum8,
    /// The bytes XORed together.
    Xor8,
    /// Modbus ASCII's longitudinal redundancy check: the two's complement
    /// of the 8-bit sum, as one byte.
    Lrc,
}

const MODBUS: Crc<u16> = Crc::<u16>::new(&CRC_16_MODBUS);
const CCITT: Crc<u16> = Crc::<u16>::new(&CRC_16_IBM_3740);
const CRC32: Crc<u32> = Crc::<u32>::new(&CRC_32_ISO_HDLC);

impl Checksum {
    /// Every checksum, with its placeholder name.
    pub(crate) const ALL: [(Checksum, &'static str); 6] = [
        (Checksum::Crc16Modbus, "crc16_modbus"),
        (Checksum::Crc16Ccitt, "crc16_ccitt"),
        (Checksum::Crc32, "crc32"),
        (Checksum::Sum8, "sum8"),
        (Checksum::Xor8, "xor8"),
        (Checksum::Lrc, "lrc"),
    ];

    /// The checksum a placeholder names.
    pub(crate) fn named(name: &str) -> Option<Self> {
        Self::ALL.iter().find(|(_, n)| *n == name).map(|(c, _)| *c)
    }

    /// Appends the checksum of `out[from..]` to `out`, in wire order.
    pub(crate) fn append(self, out: &mut Vec<u8>, from: usize) {
        let bytes = &out[from.min(out.len())..];
        let sum = || bytes.iter().fold(0u8, |s, b| s.wrapping_add(*b));
        match self {
            Checksum::Crc16Modbus => {
                let crc = MODBUS.checksum(bytes);
                out.extend_from_slice(&crc.to_le_bytes());
            }
            Checksum::Crc16Ccitt => {
                let crc = CCITT.checksum(bytes);
                out.extend_from_slice(&crc.to_be_bytes());
            }
            Checksum::Crc32 => {
                let crc = CRC32.checksum(bytes);
                out.extend_from_slice(&crc.to_le_bytes());
            }
            Checksum::Sum8 => {
                let sum = sum();
                out.push(sum);
            }
            Checksum::Xor8 => {
                let xor = bytes.iter().fold(0u8, |x, b| x ^ b);
                out.push(xor);
            }
            Checksum::Lrc => {
                let lrc = sum().wrapping_neg();
                out.push(lrc);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(checksum: Checksum, bytes: &[u8]) -> Vec<u8> {
        let mut out = b"ignored".to_vec();
        let from = out.len();
        out.extend_from_slice(bytes);
        checksum.append(&mut out, from);
        out.split_off(from + bytes.len())
    }

    /// The catalogue's check values, the checksum of "123456789", in wire order.
    #[test]
    fn catalogue_check_values() {
        assert_eq!(CRC_16_MODBUS.check, 0x4b37);
        assert_eq!(CRC_16_IBM_3740.check, 0x29b1);
        assert_eq!(CRC_32_ISO_HDLC.check, 0xcbf4_3926);
        let check = b"123456789";
        for (checksum, expected) in [
            (Checksum::Crc16Modbus, &[0x37, 0x4b][..]),
            (Checksum::Crc16Ccitt, &[0x29, 0xb1]),
            (Checksum::Crc32, &[0x26, 0x39, 0xf4, 0xcb]),
            // 0x31 + ... + 0x39 = 0x1dd.
            (Checksum::Sum8, &[0xdd]),
            (Checksum::Xor8, &[0x31]),
            (Checksum::Lrc, &[0x23]),
        ] {
            assert_eq!(of(checksum, check), expected, "{checksum:?}");
        }
    }

    /// Modbus RTU read holding registers, slave 1, 10 registers from 0:
    /// `01 03 00 00 00 0A C5 CD` on the wire.
    #[test]
    fn a_modbus_rtu_frame() {
        assert_eq!(
            of(Checksum::Crc16Modbus, &[0x01, 0x03, 0x00, 0x00, 0x00, 0x0a]),
            [0xc5, 0xcd]
        );
        // A frame followed by its CRC checks to zero, as receivers test it.
        assert_eq!(
            MODBUS.checksum(&[0x01, 0x03, 0x00, 0x00, 0x00, 0x0a, 0xc5, 0xcd]),
            0
        );
        // Modbus ASCII's example: 01 03 00 00 00 0A has LRC F2.
        assert_eq!(
            of(Checksum::Lrc, &[0x01, 0x03, 0x00, 0x00, 0x00, 0x0a]),
            [0xf2]
        );
        assert_eq!(of(Checksum::Sum8, &[]), [0]);
    }

    #[test]
    fn names() {
        for (checksum, name) in Checksum::ALL {
            assert_eq!(Checksum::named(name), Some(checksum));
        }
        assert_eq!(Checksum::named("crc16"), None);
    }
}
