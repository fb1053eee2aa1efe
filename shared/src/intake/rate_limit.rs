//! At most N automatic answers per sender per window, so a misbehaving sender (or a loop the
//! headers did not reveal) cannot make us send mail without end. Time is passed in; nothing
//! here reads a clock.

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, Duration, Utc};

/// A per-sender sliding-window limit on automatic answers.
///
/// Use [`ReplyRateLimit::allows`] with the answer times stored in the database when several
/// intake processes run, or [`ReplyRateLimit::try_answer`] to keep the record in memory.
#[derive(Debug, Clone)]
pub struct ReplyRateLimit {
    max_answers: usize,
    window: Duration,
    answered: HashMap<String, VecDeque<DateTime<Utc>>>,
}

impl ReplyRateLimit {
    /// At most `max_answers` answers to one sender within any `window`.
    pub fn new(max_answers: usize, window: Duration) -> Self {
        ReplyRateLimit {
            max_answers,
            window,
            answered: HashMap::new(),
        }
    }

    /// Whether one more answer at `now` keeps within the limit, given the times this sender
    /// was answered before.
    pub fn allows(&self, now: DateTime<Utc>, previous_answers: &[DateTime<Utc>]) -> bool {
        let recent = previous_answers
            .iter()
            .filter(|t| self.within_window(now, **t))
            .count();
        recent < self.max_answers
    }

    /// Records an answer to `sender` at `now` and returns true when the limit allows it;
    /// returns false (recording nothing) when it does not.
    pub fn try_answer(&mut self, sender: &str, now: DateTime<Utc>) -> bool {
        let window = self.window;
        let max = self.max_answers;
        let times = self.answered.entry(sender_key(sender)).or_default();
        while times.front().is_some_and(|t| now - *t >= window) {
            times.pop_front();
        }
        if times.len() >= max {
            return false;
        }
        times.push_back(now);
        true
    }

    /// Forgets senders with no answer inside the window (bounds memory in long runs).
    pub fn forget_idle(&mut self, now: DateTime<Utc>) {
        let window = self.window;
        self.answered
            .retain(|_, times| times.back().is_some_and(|t| now - *t < window));
    }

    fn within_window(&self, now: DateTime<Utc>, at: DateTime<Utc>) -> bool {
        at <= now && now - at < self.window
    }
}

/// Addresses differ only in case for the same mailbox in practice.
fn sender_key(sender: &str) -> String {
    sender.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_772_000_000 + minutes * 60, 0).unwrap()
    }

    #[test]
    fn limits_each_sender_within_the_window() {
        let mut limit = ReplyRateLimit::new(2, Duration::hours(1));
        assert!(limit.try_answer("a@x.lv", at(0)));
        assert!(limit.try_answer("A@X.lv", at(10)));
        assert!(!limit.try_answer("a@x.lv", at(20)), "third within the hour");
        assert!(
            limit.try_answer("b@x.lv", at(20)),
            "another sender is not limited"
        );
        assert!(
            limit.try_answer("a@x.lv", at(60)),
            "the first answer left the window"
        );
        assert!(!limit.try_answer("a@x.lv", at(61)));
        limit.forget_idle(at(200));
        assert!(limit.answered.is_empty());
    }

    #[test]
    fn allows_counts_stored_answers_inside_the_window() {
        let limit = ReplyRateLimit::new(3, Duration::hours(24));
        let stored = [at(0), at(5), at(10)];
        assert!(!limit.allows(at(30), &stored));
        assert!(limit.allows(at(24 * 60 + 1), &stored));
        assert!(limit.allows(at(30), &stored[..2]));
    }
}
