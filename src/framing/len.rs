//! The `len:` length field: its width, where it sits, what it counts,
//! and how a frame's length is read from it.

/// `len:FIELD[@OFFSET][+ADJ|-ADJ]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LenField {
    pub(super) width: Width,
    /// Bytes of the frame before the field.
    pub(super) offset: usize,
    /// What the field counts beyond the bytes after it (`+2`: it counts itself too).
    pub(super) adjust: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Width {
    U8,
    U16Be,
    U16Le,
    U32Be,
    U32Le,
}

impl Width {
    pub(super) const ALL: [(Width, &'static str); 5] = [
        (Width::U8, "u8"),
        (Width::U16Be, "u16be"),
        (Width::U16Le, "u16le"),
        (Width::U32Be, "u32be"),
        (Width::U32Le, "u32le"),
    ];

    pub(super) fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(w, _)| *w == self)
            .map_or("?", |(_, n)| n)
    }

    pub(super) fn size(self) -> usize {
        match self {
            Width::U8 => 1,
            Width::U16Be | Width::U16Le => 2,
            Width::U32Be | Width::U32Le => 4,
        }
    }

    pub(super) fn max(self) -> u64 {
        match self {
            Width::U8 => u8::MAX.into(),
            Width::U16Be | Width::U16Le => u16::MAX.into(),
            Width::U32Be | Width::U32Le => u32::MAX.into(),
        }
    }

    /// The value in `field`, which is `size()` bytes.
    pub(super) fn read(self, field: &[u8]) -> u64 {
        let mut be = [0u8; 8];
        let n = self.size();
        be[8 - n..].copy_from_slice(&field[..n]);
        if matches!(self, Width::U16Le | Width::U32Le) {
            be[8 - n..].reverse();
        }
        u64::from_be_bytes(be)
    }

    /// Writes `value` (at most `max()`) into `field`, which is `size()` bytes.
    pub(super) fn write(self, value: u64, field: &mut [u8]) {
        let n = self.size();
        field[..n].copy_from_slice(&value.to_be_bytes()[8 - n..]);
        if matches!(self, Width::U16Le | Width::U32Le) {
            field[..n].reverse();
        }
    }
}

impl LenField {
    /// Bytes up to the end of the length field.
    pub(super) fn header(&self) -> usize {
        self.offset + self.width.size()
    }
}

/// Why a connection's input cannot be framed: it is closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// A message longer than `--max-frame` (`len:` only: elsewhere long
    /// messages are cut into pieces).
    #[error("frame too long: {len} > {max}")]
    TooLong { len: u64, max: usize },
    /// A length field smaller than its adjustment says "fewer than no bytes".
    #[error("length field {value} is less than its adjustment {adjust}")]
    BelowAdjust { value: u64, adjust: i64 },
}

/// The length of the frame whose first `header` bytes are `header`.
pub(super) fn frame_len(field: LenField, max: usize, header: &[u8]) -> Result<usize, FrameError> {
    let value = field.width.read(&header[field.offset..]);
    let after = value as i64 - field.adjust;
    if after < 0 {
        return Err(FrameError::BelowAdjust {
            value,
            adjust: field.adjust,
        });
    }
    let len = field.offset as u64 + after as u64;
    if len > max as u64 {
        return Err(FrameError::TooLong { len, max });
    }
    Ok(field.header() + after as usize)
}
