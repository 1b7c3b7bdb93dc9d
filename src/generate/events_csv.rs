//! Writes events.csv: clean rows in time order with the injected rows spliced in.
use super::anomalies::Injected;
use super::error::GenerateError;
use super::event::Event;
use rayon::prelude::*;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

pub(super) const HEADER: &[u8] = b"timestamp,visitorid,event,itemid,transactionid\n";
const BLOCK_ROWS: usize = 65_536;
/// Blocks formatted in parallel before being written, bounding memory at any scale.
const BLOCKS_PER_WAVE: usize = 16;

/// 1-based line number (header = line 1) of each injected row, in `injected` order.
pub(super) fn injected_lines(injected: &[Injected]) -> Vec<u64> {
    injected
        .iter()
        .enumerate()
        .map(|(j, row)| (2 + row.before + j) as u64)
        .collect()
}

pub(super) fn write(
    path: &Path,
    events: &[Event],
    injected: &[Injected],
    progress: &dyn Fn(&str, u64, u64),
) -> Result<(), GenerateError> {
    let io = GenerateError::io;
    let file = File::create(path).map_err(io(path))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    out.write_all(HEADER).map_err(io(path))?;
    let n = events.len();
    let blocks = n.div_ceil(BLOCK_ROWS).max(1);
    let mut first_block = 0;
    while first_block < blocks {
        let wave_end = (first_block + BLOCKS_PER_WAVE).min(blocks);
        let buffers: Vec<Vec<u8>> = (first_block..wave_end)
            .into_par_iter()
            .map(|b| {
                format_block(
                    events,
                    injected,
                    b * BLOCK_ROWS,
                    ((b + 1) * BLOCK_ROWS).min(n),
                )
            })
            .collect();
        for buf in &buffers {
            out.write_all(buf).map_err(io(path))?;
        }
        first_block = wave_end;
        progress(
            "events.csv",
            (first_block * BLOCK_ROWS).min(n) as u64,
            n as u64,
        );
    }
    out.flush().map_err(io(path))
}

fn format_block(events: &[Event], injected: &[Injected], lo: usize, hi: usize) -> Vec<u8> {
    let mut buf = Vec::with_capacity((hi - lo) * 48);
    let mut j = injected.partition_point(|r| r.before < lo);
    for (i, event) in events.iter().enumerate().take(hi).skip(lo) {
        while j < injected.len() && injected[j].before == i {
            buf.extend_from_slice(&injected[j].line);
            j += 1;
        }
        event.write_csv(&mut buf);
    }
    if hi == events.len() {
        for row in &injected[j..] {
            buf.extend_from_slice(&row.line);
        }
    }
    buf
}
