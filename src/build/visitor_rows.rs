//! The per-visitor partials of a partition, kept on disk instead of in memory: each visitor's id, its
//! number of sessions (for the global session numbering) and its RFM row (for `kpi_segments`). They
//! are the only partials whose size grows with the input (about 80 bytes per visitor, 14 M visitors at
//! scale 10), so a partitioned build writes them next to the partition's part files and the merge
//! streams them back in visitor-id order across partitions ([`Merged`]), a record at a time.
//!
//! A record: visitor id (i64), sessions (u64), a flag byte (1: an RFM row follows, 2: it has a last
//! purchase), then the row's first and last event time, events, sessions, purchases, orders, revenue
//! (micro-units) and the last purchase time. Little-endian; written and read by this build only.
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufReader, BufWriter, ErrorKind, Read, Write};
use std::path::{Path, PathBuf};

use crate::kpis::scan::VisitorRow;
use crate::{Error, Result};

/// One visitor of a partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VisitorRecord {
    pub id: i64,
    pub sessions: u64,
    /// The visitor's RFM row (none for a visitor without a selected event, e.g. a bot); its
    /// `visitor` code is not kept (0 when read back).
    pub row: Option<VisitorRow>,
}

/// Path of a partition's visitor file.
pub fn path(part_dir: &Path, partition: usize) -> PathBuf {
    part_dir.join(format!("visitor-rows-{partition:05}.bin"))
}

/// Writes a partition's visitors: `ids` and `sessions` in ascending id order (one per visitor code),
/// `rows` the RFM rows by visitor code (any order; sorted here).
pub fn write(path: &Path, ids: &[i64], sessions: &[u64], rows: &mut [VisitorRow]) -> Result<()> {
    if ids.len() != sessions.len() {
        return Err(Error::Internal(format!(
            "{} visitor ids but {} session counts",
            ids.len(),
            sessions.len()
        )));
    }
    rows.sort_unstable_by_key(|r| r.visitor);
    let io = |e| Error::io(path, e);
    let mut w = BufWriter::with_capacity(1 << 20, File::create(path).map_err(io)?);
    let mut next = rows.iter().peekable();
    for (code, (&id, &n)) in ids.iter().zip(sessions).enumerate() {
        let row = next.next_if(|r| r.visitor as usize == code);
        let mut buf = [0u8; 82];
        buf[..8].copy_from_slice(&id.to_le_bytes());
        buf[8..16].copy_from_slice(&n.to_le_bytes());
        let mut len = 17;
        if let Some(r) = row {
            buf[16] = 1 | if r.last_purchase_ts.is_some() { 2 } else { 0 };
            let fields = [
                r.first_ts as u64,
                r.last_ts as u64,
                u64::from(r.events),
                u64::from(r.sessions),
                u64::from(r.purchases),
                u64::from(r.orders),
                r.revenue as u64,
            ];
            for f in fields
                .into_iter()
                .chain(r.last_purchase_ts.map(|t| t as u64))
            {
                buf[len..len + 8].copy_from_slice(&f.to_le_bytes());
                len += 8;
            }
        }
        w.write_all(&buf[..len]).map_err(io)?;
    }
    if next.next().is_some() {
        return Err(Error::Internal(
            "an RFM row of a visitor outside the partition".into(),
        ));
    }
    w.flush().map_err(io)
}

/// Reads a visitor file record by record.
pub struct Reader {
    r: BufReader<File>,
    path: PathBuf,
}

impl Reader {
    pub fn open(path: &Path) -> Result<Reader> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        Ok(Reader {
            r: BufReader::with_capacity(1 << 18, file),
            path: path.to_path_buf(),
        })
    }

    fn u64(&mut self) -> Result<u64> {
        let mut b = [0u8; 8];
        self.r
            .read_exact(&mut b)
            .map_err(|e| Error::io(&self.path, e))?;
        Ok(u64::from_le_bytes(b))
    }

    /// The next record, or `None` at the end of the file.
    pub fn next_record(&mut self) -> Result<Option<VisitorRecord>> {
        let mut b = [0u8; 8];
        match self.r.read_exact(&mut b) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(Error::io(&self.path, e)),
        }
        let id = i64::from_le_bytes(b);
        let sessions = self.u64()?;
        let mut flag = [0u8; 1];
        self.r
            .read_exact(&mut flag)
            .map_err(|e| Error::io(&self.path, e))?;
        let row = if flag[0] & 1 != 0 {
            let mut f = [0u64; 7];
            for x in f.iter_mut() {
                *x = self.u64()?;
            }
            let last_purchase_ts = if flag[0] & 2 != 0 {
                Some(self.u64()? as i64)
            } else {
                None
            };
            let path = &self.path;
            let count = |v: u64| {
                u32::try_from(v).map_err(|_| {
                    Error::Internal(format!("{}: a visitor count out of range", path.display()))
                })
            };
            Some(VisitorRow {
                visitor: 0,
                first_ts: f[0] as i64,
                last_ts: f[1] as i64,
                events: count(f[2])?,
                sessions: count(f[3])?,
                purchases: count(f[4])?,
                orders: count(f[5])?,
                revenue: f[6] as i64,
                last_purchase_ts,
            })
        } else {
            None
        };
        Ok(Some(VisitorRecord { id, sessions, row }))
    }
}

/// The visitors of several partitions' files in ascending id order (visitor sets are disjoint), each
/// with the index of its file: a k-way merge holding one record per file.
pub struct Merged {
    readers: Vec<Reader>,
    pending: Vec<Option<VisitorRecord>>,
    heap: BinaryHeap<Reverse<(i64, usize)>>,
}

impl Merged {
    pub fn open(paths: &[PathBuf]) -> Result<Merged> {
        let mut readers = Vec::with_capacity(paths.len());
        let mut pending = Vec::with_capacity(paths.len());
        let mut heap = BinaryHeap::with_capacity(paths.len());
        for (i, p) in paths.iter().enumerate() {
            let mut r = Reader::open(p)?;
            let first = r.next_record()?;
            if let Some(rec) = &first {
                heap.push(Reverse((rec.id, i)));
            }
            readers.push(r);
            pending.push(first);
        }
        Ok(Merged {
            readers,
            pending,
            heap,
        })
    }

    /// The visitor with the next smaller id and the index of its file, or `None` when all are read.
    pub fn next_record(&mut self) -> Result<Option<(usize, VisitorRecord)>> {
        let Some(Reverse((_, i))) = self.heap.pop() else {
            return Ok(None);
        };
        let rec = self.pending[i]
            .take()
            .ok_or_else(|| Error::Internal("visitor merge: a missing record".into()))?;
        let next = self.readers[i].next_record()?;
        if let Some(n) = &next {
            if n.id <= rec.id {
                return Err(Error::Internal(format!(
                    "{}: visitor ids not ascending",
                    self.readers[i].path.display()
                )));
            }
            self.heap.push(Reverse((n.id, i)));
        }
        self.pending[i] = next;
        Ok(Some((i, rec)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(visitor: u32, last_purchase_ts: Option<i64>) -> VisitorRow {
        VisitorRow {
            visitor,
            first_ts: -5,
            last_ts: 1_433_116_800_000 + visitor as i64,
            events: 3,
            sessions: 2,
            purchases: 1,
            orders: 1,
            revenue: -7,
            last_purchase_ts,
        }
    }

    #[test]
    fn files_merge_in_id_order_with_their_rows() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        write(
            &a,
            &[1, 4, 9],
            &[2, 1, 3],
            &mut [row(2, Some(8)), row(0, None)],
        )
        .unwrap();
        write(&b, &[-3, 5], &[1, 1], &mut [row(1, None)]).unwrap();
        let mut m = Merged::open(&[a, b]).unwrap();
        let mut got = Vec::new();
        while let Some((i, r)) = m.next_record().unwrap() {
            got.push((
                i,
                r.id,
                r.sessions,
                r.row.map(|r| (r.last_ts, r.last_purchase_ts)),
            ));
        }
        let t = 1_433_116_800_000;
        assert_eq!(
            got,
            vec![
                (1, -3, 1, None),
                (0, 1, 2, Some((t, None))),
                (0, 4, 1, None),
                (1, 5, 1, Some((t + 1, None))),
                (0, 9, 3, Some((t + 2, Some(8)))),
            ]
        );
        let rec = Reader::open(&dir.path().join("a"))
            .unwrap()
            .next_record()
            .unwrap()
            .unwrap();
        assert_eq!(
            rec.row,
            Some(VisitorRow {
                visitor: 0,
                ..row(0, None)
            })
        );
    }

    #[test]
    fn a_row_outside_the_partition_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a");
        assert!(write(&p, &[1], &[1], &mut [row(3, None)]).is_err());
    }
}
