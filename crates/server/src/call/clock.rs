//! The clock of an `execute` call that may pause: what its code's `Date` reads, and every
//! reading in order, each with how many requests the code had made by then. Readings in a row
//! of one time are kept as one entry, and each entry's time as its step from the one before,
//! so code reading the clock in a tight loop adds an entry per millisecond at most; past
//! [`ENTRIES_MAX`] entries no more readings are kept, and the call cannot be resumed from its
//! record.
//!
//! A clock replaying a record answers the code's readings from it, in order, each at the same
//! point of the code's requests as recorded, until the code has made every request the paused
//! run had made when it paused; from there on the clock is live again. A reading the record
//! cannot answer before then, or one at another point of the requests, means the run left the
//! record.

use codemode_sandbox::unix_ms;
use serde::{Deserialize, Serialize};

/// Entries a clock keeps at most (about 40 KiB of record): past them the readings are no
/// longer kept, and the call can be resumed only in the process that paused it.
pub const ENTRIES_MAX: usize = 4096;

/// Readings in a row of one time, all taken after the same number of requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Entry(
    /// How many requests the code had made when it read the clock.
    u32,
    /// The time read, in milliseconds after the previous entry's (after 0 for the first).
    i64,
    /// How many times in a row it was read.
    u32,
);

/// A call's clock readings as its paused record keeps them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockRecord {
    entries: Vec<Entry>,
    /// How many requests the code had made when the record was taken.
    made: u32,
    /// Whether readings were left out, past [`ENTRIES_MAX`] entries.
    overflowed: bool,
}

/// Where a clock replaying a record stands in it.
struct Replay {
    /// The entries the record holds.
    recorded: usize,
    /// The entry that answers the next reading.
    next: usize,
    /// How many readings that entry answered already.
    given: u32,
    /// The time of the entry before it.
    base: i64,
    /// How many requests the paused run had made: the clock is live once the code made them.
    until: u32,
}

/// The clock of one call.
pub struct Clock {
    entries: Vec<Entry>,
    /// The time of the last entry.
    last: i64,
    made: u32,
    overflowed: bool,
    replay: Option<Replay>,
}

impl Default for Clock {
    fn default() -> Clock {
        Clock::replaying(ClockRecord::default())
    }
}

impl Clock {
    /// A clock that answers readings from `record` until the code made as many requests as
    /// the run that paused (a live clock, for an empty record), and records them all.
    pub fn replaying(record: ClockRecord) -> Clock {
        let last = record
            .entries
            .iter()
            .fold(0_i64, |time, entry| time.saturating_add(entry.1));
        let replay = Replay {
            recorded: record.entries.len(),
            next: 0,
            given: 0,
            base: 0,
            until: record.made,
        };
        Clock {
            entries: record.entries,
            last,
            made: 0,
            overflowed: record.overflowed,
            replay: Some(replay),
        }
    }

    /// The code made a request.
    pub fn made_request(&mut self) {
        self.made = self.made.saturating_add(1);
    }

    /// The time the code reads now, in Unix milliseconds: from the record while replaying it,
    /// else the system clock's; or why the run left the record.
    pub fn read(&mut self) -> Result<i64, String> {
        if let Some(replay) = &mut self.replay {
            if replay.next < replay.recorded {
                let Entry(made, step, times) = self.entries[replay.next];
                if made != self.made {
                    let before = made.min(self.made) + 1;
                    let often = if made > self.made { "more" } else { "less" };
                    return Err(format!(
                        "running its code again read the clock (`Date`) {often} often before \
                         its request {before} than the run that paused did"
                    ));
                }
                let time = replay.base.saturating_add(step);
                replay.given += 1;
                if replay.given >= times {
                    replay.next += 1;
                    replay.given = 0;
                    replay.base = time;
                }
                return Ok(time);
            }
            if self.overflowed {
                return Err(format!(
                    "the run that paused read the clock (`Date`) at more distinct times than \
                     its record keeps ({ENTRIES_MAX})"
                ));
            }
            if self.made < replay.until {
                return Err(format!(
                    "running its code again read the clock (`Date`) more often before its \
                     request {} than the run that paused did",
                    self.made + 1
                ));
            }
            self.replay = None;
        }
        let now = unix_ms();
        self.keep(now);
        Ok(now)
    }

    /// Adds a live reading of `time` to the entries.
    fn keep(&mut self, time: i64) {
        if self.overflowed {
            return;
        }
        if let Some(Entry(made, _, times)) = self.entries.last_mut()
            && *made == self.made
            && self.last == time
            && *times < u32::MAX
        {
            *times += 1;
            return;
        }
        if self.entries.len() >= ENTRIES_MAX {
            self.overflowed = true;
            return;
        }
        self.entries
            .push(Entry(self.made, time.saturating_sub(self.last), 1));
        self.last = time;
    }

    /// The readings so far, as a record taken now keeps them.
    pub fn record(&self) -> ClockRecord {
        ClockRecord {
            entries: self.entries.clone(),
            made: self.made,
            overflowed: self.overflowed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `clock` `times` times.
    fn read(clock: &mut Clock, times: usize) -> Vec<Result<i64, String>> {
        (0..times).map(|_| clock.read()).collect()
    }

    #[test]
    fn a_replay_gives_the_recorded_readings_in_order_then_goes_live() {
        let mut first = Clock::default();
        let mut seen = read(&mut first, 3);
        first.made_request();
        seen.extend(read(&mut first, 2));
        first.made_request();
        let record = first.record();
        let seen: Vec<i64> = seen.into_iter().map(Result::unwrap).collect();
        assert!(seen.windows(2).all(|pair| pair[0] <= pair[1]), "{seen:?}");

        let mut again = Clock::replaying(record.clone());
        let mut replayed = read(&mut again, 3);
        again.made_request();
        replayed.extend(read(&mut again, 2));
        assert_eq!(replayed, seen.iter().copied().map(Ok).collect::<Vec<_>>());
        again.made_request();
        let live = again
            .read()
            .expect("live once the paused run's requests are made");
        assert!(live >= seen[4]);
        assert!(again.replay.is_none());
        assert!(again.record().entries.starts_with(&record.entries));
    }

    #[test]
    fn a_replay_reading_more_or_at_another_point_has_left_the_record() {
        let mut first = Clock::default();
        first.read().unwrap();
        first.made_request();
        first.read().unwrap();
        first.made_request();
        let record = first.record();

        let mut more = Clock::replaying(record.clone());
        more.read().unwrap();
        let why = more.read().unwrap_err();
        assert!(why.contains("more often before its request 1"), "{why}");

        let mut beyond = Clock::replaying(record.clone());
        beyond.read().unwrap();
        beyond.made_request();
        beyond.read().unwrap();
        let why = beyond.read().unwrap_err();
        assert!(why.contains("more often before its request 2"), "{why}");

        let mut less = Clock::replaying(record);
        less.made_request();
        let why = less.read().unwrap_err();
        assert!(why.contains("less often before its request 1"), "{why}");
    }

    #[test]
    fn readings_of_one_time_share_an_entry_and_the_entries_are_bounded() {
        let mut clock = Clock::default();
        for made in 0..(ENTRIES_MAX as u32 + 10) {
            clock.keep(1_000);
            clock.keep(1_000);
            clock.made = made + 1;
        }
        let record = clock.record();
        assert_eq!(record.entries.len(), ENTRIES_MAX);
        assert_eq!(record.entries[0], Entry(0, 1_000, 2));
        assert_eq!(record.entries[1], Entry(1, 0, 2));
        assert!(record.overflowed);

        let mut again = Clock::replaying(record);
        for made in 0..ENTRIES_MAX {
            assert_eq!(again.read(), Ok(1_000), "reading {made}");
            assert_eq!(again.read(), Ok(1_000));
            again.made_request();
        }
        let why = again.read().unwrap_err();
        assert!(
            why.contains("more distinct times than its record keeps"),
            "{why}"
        );
    }

    #[test]
    fn a_record_survives_its_serialised_form() {
        let mut clock = Clock::default();
        clock.keep(1_764_000_000_000);
        clock.made_request();
        clock.keep(1_764_000_000_007);
        let record = clock.record();
        let text = serde_json::to_string(&record).unwrap();
        assert_eq!(
            text,
            r#"{"entries":[[0,1764000000000,1],[1,7,1]],"made":1,"overflowed":false}"#
        );
        assert_eq!(serde_json::from_str::<ClockRecord>(&text).unwrap(), record);
    }
}
