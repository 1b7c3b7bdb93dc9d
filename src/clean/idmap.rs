//! A map from non-negative integer ids to values: a plain array when the ids are dense enough (item and
//! category ids usually are), a hash map otherwise. Lookups run once per event, so this matters.
use hashbrown::HashMap;

/// Whether ids in `min..=max`, `n` of them, are dense enough for a plain array.
pub fn dense_fits(min: i64, max: i64, n: usize) -> bool {
    min >= 0 && max < 100_000_000 && (max as usize) < 8 * n + 1_000_000
}

#[derive(Debug, Clone)]
pub enum IdMap<V> {
    Dense(Vec<Option<V>>),
    Sparse(HashMap<i64, V>),
}

impl<V> Default for IdMap<V> {
    fn default() -> Self {
        IdMap::Dense(Vec::new())
    }
}

impl<V: Copy + Default> IdMap<V> {
    /// Folds `(id, x)` pairs into one value per id, starting from `V::default()`.
    pub fn fold<X>(
        pairs: impl Iterator<Item = (i64, X)> + Clone,
        mut add: impl FnMut(&mut V, X),
    ) -> Self {
        let (mut min, mut max, mut n) = (i64::MAX, -1, 0usize);
        for (id, _) in pairs.clone() {
            min = min.min(id);
            max = max.max(id);
            n += 1;
        }
        if n == 0 || dense_fits(min, max, n) {
            let mut values: Vec<Option<V>> = vec![None; (max + 1) as usize];
            for (id, x) in pairs {
                add(values[id as usize].get_or_insert_with(V::default), x);
            }
            IdMap::Dense(values)
        } else {
            let mut map: HashMap<i64, V> = HashMap::new();
            for (id, x) in pairs {
                add(map.entry(id).or_default(), x);
            }
            IdMap::Sparse(map)
        }
    }
}

impl<V: Copy> IdMap<V> {
    /// Later pairs overwrite earlier ones with the same id.
    pub fn new(pairs: impl IntoIterator<Item = (i64, V)>) -> Self {
        let pairs: Vec<(i64, V)> = pairs.into_iter().collect();
        let max = pairs.iter().map(|p| p.0).max().unwrap_or(-1);
        let min = pairs.iter().map(|p| p.0).min().unwrap_or(0);
        if dense_fits(min, max, pairs.len()) {
            let mut values = vec![None; (max + 1) as usize];
            for (id, v) in pairs {
                values[id as usize] = Some(v);
            }
            IdMap::Dense(values)
        } else {
            IdMap::Sparse(pairs.into_iter().collect())
        }
    }

    /// Cache hint for a later [`IdMap::get`] of `id` (dense maps only).
    #[inline]
    pub fn prefetch(&self, id: i64) {
        if let (IdMap::Dense(values), Ok(i)) = (self, usize::try_from(id)) {
            crate::hint::prefetch(values, i);
        }
    }

    #[inline]
    pub fn get(&self, id: i64) -> Option<V> {
        match self {
            IdMap::Dense(values) => usize::try_from(id)
                .ok()
                .and_then(|i| values.get(i).copied().flatten()),
            IdMap::Sparse(map) => map.get(&id).copied(),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            IdMap::Dense(values) => values.iter().filter(|v| v.is_some()).count(),
            IdMap::Sparse(map) => map.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn contains(&self, id: i64) -> bool {
        self.get(id).is_some()
    }

    pub fn ids(&self) -> Vec<i64> {
        match self {
            IdMap::Dense(values) => values
                .iter()
                .enumerate()
                .filter(|(_, v)| v.is_some())
                .map(|(i, _)| i as i64)
                .collect(),
            IdMap::Sparse(map) => map.keys().copied().collect(),
        }
    }

    pub fn values(&self) -> Vec<V> {
        match self {
            IdMap::Dense(values) => values.iter().flatten().copied().collect(),
            IdMap::Sparse(map) => map.values().copied().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_and_sparse_agree() {
        let pairs = vec![(3, 'a'), (10, 'b'), (3, 'c')];
        let dense = IdMap::new(pairs.clone());
        assert!(matches!(dense, IdMap::Dense(_)));
        let sparse = IdMap::new(vec![(3, 'c'), (10, 'b'), (i64::MAX, 'z')]);
        assert!(matches!(sparse, IdMap::Sparse(_)));
        for m in [&dense, &sparse] {
            assert_eq!(m.get(3), Some('c'));
            assert_eq!(m.get(10), Some('b'));
            assert_eq!(m.get(4), None);
            assert_eq!(m.get(-1), None);
        }
        assert_eq!(dense.len(), 2);
        assert_eq!(dense.ids(), vec![3, 10]);
    }

    #[test]
    fn fold_sums_per_id_dense_and_sparse() {
        let pairs = [(5i64, 1u32), (2, 10), (5, 100), (2, 1000)];
        let dense = IdMap::<u32>::fold(pairs.iter().copied(), |v, x| *v += x);
        assert!(matches!(dense, IdMap::Dense(_)));
        assert_eq!(
            (dense.get(5), dense.get(2), dense.get(3)),
            (Some(101), Some(1010), None)
        );
        let sparse = IdMap::<u32>::fold(
            pairs.iter().map(|&(i, x)| (i * 1_000_000_000, x)),
            |v, x| *v += x,
        );
        assert!(matches!(sparse, IdMap::Sparse(_)));
        assert_eq!(sparse.get(5_000_000_000), Some(101));
        let empty = IdMap::<u32>::fold(std::iter::empty(), |v, x: u32| *v += x);
        assert!(empty.is_empty());
    }
}
