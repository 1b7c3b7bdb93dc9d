//! Exact-duplicate detection: a row is a duplicate when an earlier row is byte-for-byte equal (so every
//! field is equal, null equal to null). Hashes only nominate candidates; equality is always checked.
use rayon::prelude::*;

use crate::clean::pipeline::NOT_DUPLICATE;

/// For each row, the index of the first earlier identical row, or `NOT_DUPLICATE`.
pub fn exact_duplicates(hashes: &[u64], equal: impl Fn(usize, usize) -> bool + Sync) -> Vec<u32> {
    let mut order: Vec<(u64, u32)> = hashes
        .par_iter()
        .enumerate()
        .map(|(i, &h)| (h, i as u32))
        .collect();
    order.par_sort_unstable();
    let mut dup_of = vec![NOT_DUPLICATE; hashes.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i + 1;
        while j < order.len() && order[j].0 == order[i].0 {
            j += 1;
        }
        if j - i > 1 {
            // Rows of one hash in source order; each is compared with the distinct ones before it.
            let mut firsts: Vec<u32> = Vec::new();
            for &(_, row) in &order[i..j] {
                match firsts.iter().find(|&&f| equal(f as usize, row as usize)) {
                    Some(&f) => dup_of[row as usize] = f,
                    None => firsts.push(row),
                }
            }
        }
        i = j;
    }
    dup_of
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_point_at_first_and_collisions_are_checked() {
        let rows = ["a", "b", "a", "c", "a", "d"];
        // Force every row into one hash bucket: equality must still separate them.
        let dup = exact_duplicates(&[7; 6], |x, y| rows[x] == rows[y]);
        assert_eq!(
            dup,
            vec![
                NOT_DUPLICATE,
                NOT_DUPLICATE,
                0,
                NOT_DUPLICATE,
                0,
                NOT_DUPLICATE
            ]
        );
    }
}
