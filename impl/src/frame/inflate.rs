//! Inflating what the server compressed (RFC 7692 §7.2.2), bomb-proof: the
//! output never grows past the message limit, checked after every 32 KiB
//! inflated, so a small frame that inflates to gigabytes fails with 1009
//! having used at most the limit.

use flate2::{Decompress, FlushDecompress, Status};

/// Bytes inflated per step, so that a bomb is caught early.
const INFLATE_CHUNK: usize = 32 * 1024;
/// Appended to every compressed message before inflating (RFC 7692 §7.2.2).
const DEFLATE_TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Why inflating stopped.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum InflateError {
    /// The output would exceed the budget.
    TooBig,
    /// Not valid deflate data.
    Corrupt(String),
}

/// A raw-deflate decompressor that keeps its window across messages.
pub(crate) struct Inflater {
    decompress: Decompress,
    scratch: Box<[u8]>,
    /// A block with BFINAL ended the deflate stream and the decompressor was
    /// reset since; no input was fed after it.
    at_stream_end: bool,
}

impl Inflater {
    pub(crate) fn new() -> Self {
        Inflater {
            decompress: Decompress::new(false),
            scratch: vec![0; INFLATE_CHUNK].into_boxed_slice(),
            at_stream_end: false,
        }
    }

    /// Inflates `input`, appending to `out`, which never grows past `budget`
    /// bytes (its capacity neither).
    pub(crate) fn inflate(&mut self, mut input: &[u8], budget: usize, out: &mut Vec<u8>) -> Result<(), InflateError> {
        loop {
            let (in_before, out_before) = (self.decompress.total_in(), self.decompress.total_out());
            let status = self
                .decompress
                .decompress(input, &mut self.scratch, FlushDecompress::Sync)
                .map_err(|e| InflateError::Corrupt(e.to_string()))?;
            let used = ((self.decompress.total_in() - in_before) as usize).min(input.len());
            let produced = ((self.decompress.total_out() - out_before) as usize).min(self.scratch.len());
            input = &input[used..];
            append_bounded(out, &self.scratch[..produced], budget)?;
            if status == Status::StreamEnd {
                // A block with BFINAL ended the deflate stream (RFC 7692 lets
                // a sender do so): whatever follows starts a new one.
                self.decompress.reset(false);
                self.at_stream_end = true;
                if input.is_empty() {
                    return Ok(());
                }
                continue;
            }
            if used > 0 || produced > 0 {
                self.at_stream_end = false;
            }
            if produced == self.scratch.len() {
                continue; // more output may be waiting
            }
            if input.is_empty() {
                return Ok(());
            }
            if used == 0 && produced == 0 {
                return Err(InflateError::Corrupt("the inflater made no progress".to_string()));
            }
        }
    }

    /// Ends a message: feeds the 0x00 0x00 0xff 0xff tail (not after a
    /// BFINAL block, which already ended the stream).
    pub(crate) fn finish_message(&mut self, budget: usize, out: &mut Vec<u8>) -> Result<(), InflateError> {
        if self.at_stream_end {
            return Ok(());
        }
        self.inflate(&DEFLATE_TAIL, budget, out)
    }

    /// Forgets the window (`server_no_context_takeover`).
    pub(crate) fn reset(&mut self) {
        self.decompress.reset(false);
        self.at_stream_end = false;
    }
}

/// Appends `bytes` to `out` if the result stays within `budget`; grows the
/// capacity by doubling but never past `budget`.
fn append_bounded(out: &mut Vec<u8>, bytes: &[u8], budget: usize) -> Result<(), InflateError> {
    let needed = out.len().checked_add(bytes.len()).ok_or(InflateError::TooBig)?;
    if needed > budget {
        return Err(InflateError::TooBig);
    }
    if needed > out.capacity() {
        let target = out.capacity().saturating_mul(2).clamp(needed, budget.max(needed));
        out.reserve_exact(target - out.len());
    }
    out.extend_from_slice(bytes);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::compress::Compressor;
    use wsapi_model::handshake::DeflateParams;

    /// `data` as our own sender compresses it (the wire form, tail removed).
    fn deflated(data: &[u8]) -> Vec<u8> {
        Compressor::new(&DeflateParams::default())
            .expect("a 32 KiB window")
            .compress(data)
    }

    fn inflate_within(compressed: &[u8], budget: usize) -> Result<Vec<u8>, InflateError> {
        let (mut i, mut out) = (Inflater::new(), Vec::new());
        i.inflate(compressed, budget, &mut out)?;
        i.finish_message(budget, &mut out)?;
        Ok(out)
    }

    #[test]
    fn a_message_of_exactly_the_budget_fits_and_its_buffer_stays_within_it() {
        let data = vec![b'z'; 100_000]; // more than one INFLATE_CHUNK
        let compressed = deflated(&data);
        let out = inflate_within(&compressed, data.len()).expect("exactly the budget");
        assert_eq!(out, data);
        assert!(out.capacity() <= data.len(), "capacity {}", out.capacity());
        assert_eq!(inflate_within(&compressed, data.len() - 1), Err(InflateError::TooBig));
    }
}
