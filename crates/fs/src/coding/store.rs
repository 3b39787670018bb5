//! A map bounded by the total cost of its values, with CLOCK eviction.
//!
//! CLOCK (second chance) rather than strict LRU: a hit only sets a bit in its slot, with no
//! list to reorder, so the hot path is one hash lookup. Eviction sweeps a hand over the
//! slots, clearing bits, and drops the first entry not used since the hand last passed it;
//! that approximates LRU well for a cache whose working set changes slowly (a site's assets).
//!
//! One store lives in each worker thread (see the parent module), so there are no locks and
//! nothing is shared between workers.

use std::collections::HashMap;
use std::hash::Hash;

/// Cost-bounded map with second-chance eviction.
#[derive(Debug)]
pub(crate) struct Store<K, V> {
    /// foldhash, not SipHash: the keys are file identities (device, inode, size, mtime) that
    /// no client chooses, and SipHash of one was ~450 instructions per lookup, two lookups per
    /// compressed answer.
    index: HashMap<K, usize, foldhash::fast::RandomState>,
    slots: Vec<Option<Slot<K, V>>>,
    /// Empty slots, reused before the vector grows.
    free: Vec<usize>,
    hand: usize,
    used: usize,
    budget: usize,
}

#[derive(Debug)]
struct Slot<K, V> {
    key: K,
    value: V,
    cost: usize,
    referenced: bool,
}

impl<K: Hash + Eq + Clone, V> Store<K, V> {
    /// An empty store that holds values of total cost at most `budget`.
    pub(crate) fn new(budget: usize) -> Store<K, V> {
        Store { index: HashMap::default(), slots: Vec::new(), free: Vec::new(), hand: 0, used: 0, budget }
    }

    /// The value for `key`, marked as recently used.
    pub(crate) fn get(&mut self, key: &K) -> Option<&V> {
        let i = *self.index.get(key)?;
        let slot = self.slots[i].as_mut()?;
        slot.referenced = true;
        Some(&slot.value)
    }

    /// Stores `value` under `key`, evicting others until it fits. A value costing more than
    /// the whole budget is not stored (and evicts nothing).
    pub(crate) fn insert(&mut self, key: K, value: V, cost: usize) {
        self.remove(&key);
        if cost > self.budget {
            return;
        }
        while self.used + cost > self.budget {
            if !self.evict_one() {
                break;
            }
        }
        // New entries start unreferenced: one that is never read again goes first.
        let slot = Some(Slot { key: key.clone(), value, cost, referenced: false });
        let i = match self.free.pop() {
            Some(i) => {
                self.slots[i] = slot;
                i
            }
            None => {
                self.slots.push(slot);
                self.slots.len() - 1
            }
        };
        self.index.insert(key, i);
        self.used += cost;
    }

    /// Drops `key`, if present.
    pub(crate) fn remove(&mut self, key: &K) {
        if let Some(i) = self.index.remove(key) {
            self.vacate(i);
        }
    }

    /// Changes the bound, evicting down to it.
    pub(crate) fn set_budget(&mut self, budget: usize) {
        self.budget = budget;
        while self.used > self.budget && self.evict_one() {}
    }

    /// Total cost held.
    #[cfg(test)]
    pub(crate) fn used(&self) -> usize {
        self.used
    }

    /// Number of entries.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }

    /// Evicts the next entry the hand finds unreferenced; false when the store is empty.
    fn evict_one(&mut self) -> bool {
        if self.index.is_empty() {
            return false;
        }
        // Terminates within two sweeps: the first clears every bit it passes.
        loop {
            if self.hand >= self.slots.len() {
                self.hand = 0;
            }
            let i = self.hand;
            self.hand += 1;
            match &mut self.slots[i] {
                Some(s) if s.referenced => s.referenced = false,
                Some(s) => {
                    let key = s.key.clone();
                    self.index.remove(&key);
                    self.vacate(i);
                    return true;
                }
                None => {}
            }
        }
    }

    fn vacate(&mut self, i: usize) {
        if let Some(s) = self.slots[i].take() {
            self.used -= s.cost;
            self.free.push(i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inserting_beyond_the_bound_evicts() {
        let mut s = Store::new(100);
        for k in 0..10 {
            s.insert(k, k, 30);
            assert!(s.used() <= 100, "used {} after {k}", s.used());
        }
        assert_eq!(s.len(), 3);
        assert_eq!(s.used(), 90);
        // The newest survive when nothing was read.
        assert!(s.get(&9).is_some() && s.get(&8).is_some() && s.get(&7).is_some());
        assert!(s.get(&0).is_none());
    }

    #[test]
    fn a_recently_read_entry_gets_a_second_chance() {
        let mut s = Store::new(3);
        s.insert("a", 1, 1);
        s.insert("b", 2, 1);
        s.insert("c", 3, 1);
        assert_eq!(s.get(&"a"), Some(&1));
        s.insert("d", 4, 1); // evicts b, the oldest unreferenced
        assert!(s.get(&"b").is_none());
        assert_eq!(s.get(&"a"), Some(&1));
        assert_eq!(s.get(&"d"), Some(&4));
    }

    #[test]
    fn oversized_values_are_not_kept_and_evict_nothing() {
        let mut s = Store::new(10);
        s.insert(1, (), 5);
        s.insert(2, (), 11);
        assert!(s.get(&2).is_none());
        assert!(s.get(&1).is_some());
        assert_eq!(s.used(), 5);
    }

    #[test]
    fn replacing_a_key_updates_its_cost() {
        let mut s = Store::new(10);
        s.insert(1, "x", 4);
        s.insert(1, "y", 6);
        assert_eq!(s.used(), 6);
        assert_eq!(s.get(&1), Some(&"y"));
        s.remove(&1);
        assert_eq!((s.used(), s.len()), (0, 0));
    }

    #[test]
    fn shrinking_the_budget_evicts() {
        let mut s = Store::new(100);
        for k in 0..10 {
            s.insert(k, (), 10);
        }
        s.set_budget(35);
        assert!(s.used() <= 35);
        assert_eq!(s.len(), 3);
    }

    #[test]
    fn slots_are_reused() {
        let mut s = Store::new(2);
        for k in 0..1000 {
            s.insert(k, (), 1);
        }
        assert!(s.slots.len() <= 3, "{} slots", s.slots.len());
    }
}
