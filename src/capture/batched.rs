//! Whole records to the capture files: writes gathered into batches that end
//! at a record's end.

use std::io;

/// Bytes gathered before a write: records (lines, packets) reach the file
/// whole, so whenever the process ends, the file ends at a record's end.
const BATCH: usize = 256 * 1024;

/// A writer that passes on only whole records: `write` gathers, `flush`
/// and `end_of_record` (once a batch is big enough) write them out.
pub(super) struct Batched<W: io::Write> {
    out: W,
    batch: Vec<u8>,
}

impl<W: io::Write> Batched<W> {
    pub(super) fn new(out: W) -> Self {
        Self {
            out,
            batch: Vec::with_capacity(BATCH),
        }
    }

    /// A record is complete: write the batch out if it is big enough.
    pub(super) fn end_of_record(&mut self) -> io::Result<()> {
        if self.batch.len() >= BATCH {
            io::Write::flush(self)?;
        }
        Ok(())
    }
}

impl<W: io::Write> io::Write for Batched<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.batch.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.batch.is_empty() {
            self.out.write_all(&self.batch)?;
            self.batch.clear();
        }
        self.out.flush()
    }
}
