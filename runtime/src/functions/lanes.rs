//! A bounded queue with one lane per key, served round robin, where no lane
//! may hold more than its share of the queue or run more than its share of
//! the workers. The after-publish dispatcher keys it by function, so one
//! function's flood of slow work cannot starve another's (pure data
//! structure: no locking, no tasks).

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

/// The lanes and what each has queued and running.
pub struct Lanes<K, T> {
    lanes: HashMap<K, Lane<T>>,
    /// Keys of the lanes with queued items, each once, in serving order.
    order: VecDeque<K>,
    queued: usize,
    running: usize,
    limits: LaneLimits,
}

/// How much of the queue and of the workers one lane may take.
#[derive(Debug, Clone, Copy)]
pub struct LaneLimits {
    /// Items queued in all lanes together.
    pub capacity: usize,
    /// Items queued in one lane.
    pub per_lane: usize,
    /// Items of one lane running at once.
    pub running_per_lane: usize,
}

struct Lane<T> {
    items: VecDeque<T>,
    running: usize,
}

/// Why an item was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Every lane together holds `capacity` items.
    Full,
    /// This lane holds its `per_lane` share.
    LaneFull,
}

impl<K: Hash + Eq + Clone, T> Lanes<K, T> {
    /// Empty lanes held to `limits` (each limit at least 1).
    pub fn new(limits: LaneLimits) -> Self {
        Self {
            lanes: HashMap::new(),
            order: VecDeque::new(),
            queued: 0,
            running: 0,
            limits: LaneLimits {
                capacity: limits.capacity.max(1),
                per_lane: limits.per_lane.max(1),
                running_per_lane: limits.running_per_lane.max(1),
            },
        }
    }

    /// Queues `item` at the back of `key`'s lane.
    ///
    /// # Errors
    /// [`Refused`] (with the item dropped) when the queue or the lane is full.
    pub fn push(&mut self, key: K, item: T) -> Result<(), Refused> {
        if self.queued >= self.limits.capacity {
            return Err(Refused::Full);
        }
        let lane = self.lanes.entry(key.clone()).or_insert_with(|| Lane {
            items: VecDeque::new(),
            running: 0,
        });
        if lane.items.len() >= self.limits.per_lane {
            return Err(Refused::LaneFull);
        }
        if lane.items.is_empty() {
            self.order.push_back(key);
        }
        lane.items.push_back(item);
        self.queued += 1;
        Ok(())
    }

    /// Takes the next item to run: the front of the first lane, in round
    /// robin order, that runs fewer than its share. The caller reports its
    /// end with [`Self::done`].
    pub fn take_next(&mut self) -> Option<(K, T)> {
        for _ in 0..self.order.len() {
            let key = self.order.pop_front()?;
            let lane = self.lanes.get_mut(&key).expect("a lane in order exists");
            if lane.running >= self.limits.running_per_lane {
                self.order.push_back(key);
                continue;
            }
            let item = lane.items.pop_front().expect("a lane in order has items");
            lane.running += 1;
            if !lane.items.is_empty() {
                self.order.push_back(key.clone());
            }
            self.queued -= 1;
            self.running += 1;
            return Some((key, item));
        }
        None
    }

    /// Records the end of an item of `key` taken with [`Self::next`].
    pub fn done(&mut self, key: &K) {
        let Some(lane) = self.lanes.get_mut(key) else {
            return;
        };
        lane.running = lane.running.saturating_sub(1);
        self.running = self.running.saturating_sub(1);
        if lane.running == 0 && lane.items.is_empty() {
            self.lanes.remove(key);
        }
    }

    /// How many more items `key`'s lane may queue before it holds as many
    /// as it may run at once.
    pub fn room_to_start(&self, key: &K) -> usize {
        let queued = self.lanes.get(key).map_or(0, |lane| lane.items.len());
        self.limits
            .running_per_lane
            .saturating_sub(queued)
            .min(self.limits.capacity - self.queued)
    }

    /// Items queued or running.
    pub fn pending(&self) -> usize {
        self.queued + self.running
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lanes(
        capacity: usize,
        per_lane: usize,
        running_per_lane: usize,
    ) -> Lanes<&'static str, u32> {
        Lanes::new(LaneLimits {
            capacity,
            per_lane,
            running_per_lane,
        })
    }

    #[test]
    fn lanes_are_served_round_robin() {
        let mut q = lanes(10, 10, 10);
        for i in 0..3 {
            q.push("a", i).unwrap();
        }
        q.push("b", 10).unwrap();
        let served: Vec<_> = std::iter::from_fn(|| q.take_next()).collect();
        assert_eq!(served, [("a", 0), ("b", 10), ("a", 1), ("a", 2)]);
    }

    #[test]
    fn a_lane_at_its_running_share_is_skipped_until_one_ends() {
        let mut q = lanes(10, 10, 2);
        for i in 0..4 {
            q.push("slow", i).unwrap();
        }
        assert_eq!(q.take_next(), Some(("slow", 0)));
        assert_eq!(q.take_next(), Some(("slow", 1)));
        assert_eq!(q.take_next(), None);
        q.push("quick", 9).unwrap();
        assert_eq!(q.take_next(), Some(("quick", 9)));
        q.done(&"slow");
        assert_eq!(q.take_next(), Some(("slow", 2)));
        assert_eq!(q.pending(), 4);
    }

    #[test]
    fn the_queue_and_each_lane_are_bounded() {
        let mut q = lanes(3, 2, 1);
        q.push("a", 1).unwrap();
        q.push("a", 2).unwrap();
        assert_eq!(q.push("a", 3), Err(Refused::LaneFull));
        q.push("b", 4).unwrap();
        assert_eq!(q.push("c", 5), Err(Refused::Full));
        assert_eq!(q.pending(), 3);
    }

    #[test]
    fn room_to_start_is_what_a_lane_may_queue_below_its_running_share() {
        let mut q = lanes(5, 5, 2);
        assert_eq!(q.room_to_start(&"a"), 2);
        q.push("a", 1).unwrap();
        assert_eq!(q.room_to_start(&"a"), 1);
        q.push("a", 2).unwrap();
        q.push("a", 3).unwrap();
        assert_eq!(q.room_to_start(&"a"), 0);
        q.push("b", 4).unwrap();
        assert_eq!(q.room_to_start(&"b"), 1, "b's share");
        q.push("c", 5).unwrap();
        assert_eq!(q.room_to_start(&"d"), 0, "the whole queue is full");
    }

    #[test]
    fn finished_lanes_are_forgotten() {
        let mut q = lanes(10, 10, 10);
        q.push("a", 1).unwrap();
        let (key, _) = q.take_next().unwrap();
        q.done(&key);
        assert_eq!(q.pending(), 0);
        assert!(q.lanes.is_empty() && q.order.is_empty());
        q.done(&"unknown");
        assert_eq!(q.pending(), 0);
    }
}
