//! How many bytes of API responses one call may hold: each response on its own, and all of a
//! call's responses together from their first byte until the sandbox has taken them.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::upstream::UpstreamError;

/// One call's allowance for response bodies. Clones share the count.
#[derive(Debug, Clone)]
pub struct ResponseBudget {
    per_response: usize,
    per_call: usize,
    held: Arc<AtomicUsize>,
}

impl PartialEq for ResponseBudget {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.held, &other.held)
    }
}

impl Eq for ResponseBudget {}

impl ResponseBudget {
    /// A budget of `per_response` bytes for one body and `per_call` bytes for all bodies held
    /// at once.
    pub fn new(per_response: usize, per_call: usize) -> ResponseBudget {
        ResponseBudget {
            per_response,
            per_call,
            held: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// The most one response body may hold.
    pub fn per_response(&self) -> usize {
        self.per_response
    }

    /// Bytes held now by the call's responses.
    pub fn held(&self) -> usize {
        self.held.load(Ordering::SeqCst)
    }

    /// An empty share of the budget, for one body as it arrives.
    pub fn share(&self) -> Share {
        Share {
            budget: self.clone(),
            bytes: 0,
        }
    }

    /// A share of `bytes` already received, taken whatever the budget holds (the bytes were
    /// checked as they came).
    pub fn hold(&self, bytes: usize) -> Share {
        self.held.fetch_add(bytes, Ordering::SeqCst);
        Share {
            budget: self.clone(),
            bytes,
        }
    }
}

/// Bytes of one body counted against its call's budget until dropped.
#[derive(Debug)]
pub struct Share {
    budget: ResponseBudget,
    bytes: usize,
}

impl Share {
    /// Counts `more` bytes of the body, or refuses them when the body or the call would pass
    /// its limit.
    pub fn grow(&mut self, more: usize) -> Result<(), UpstreamError> {
        let limit = self.budget.per_response;
        if self.bytes.saturating_add(more) > limit {
            return Err(UpstreamError::ResponseTooLarge { limit });
        }
        let per_call = self.budget.per_call;
        self.budget
            .held
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |held| {
                held.checked_add(more).filter(|total| *total <= per_call)
            })
            .map_err(|_| UpstreamError::CallResponsesTooLarge { limit: per_call })?;
        self.bytes += more;
        Ok(())
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        self.budget.held.fetch_sub(self.bytes, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_count_until_dropped_and_refuse_past_either_limit() {
        let budget = ResponseBudget::new(10, 15);
        let mut first = budget.share();
        first.grow(8).expect("fits");
        assert_eq!(
            first.grow(3),
            Err(UpstreamError::ResponseTooLarge { limit: 10 })
        );
        let mut second = budget.share();
        second.grow(7).expect("fits the call");
        assert_eq!(
            second.grow(1),
            Err(UpstreamError::CallResponsesTooLarge { limit: 15 })
        );
        assert_eq!(budget.held(), 15);
        drop(first);
        second.grow(1).expect("room again");
        let kept = budget.hold(4);
        assert_eq!(budget.held(), 12);
        drop((second, kept));
        assert_eq!(budget.held(), 0);
    }
}
