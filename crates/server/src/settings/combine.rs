//! Layering settings: each layer fills what the layers above it left unset, as uv's
//! `uv-settings` does. Lists are the exception: every layer's entries count.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Merges a layer of settings with the one below it, `self` taking precedence.
pub trait Combine {
    /// `self` over `lower`.
    #[must_use]
    fn combine(self, lower: Self) -> Self;
}

/// Single values: the higher layer's wins.
macro_rules! first_set_wins {
    ($($type:ty),* $(,)?) => {
        $(
            impl Combine for Option<$type> {
                fn combine(self, lower: Self) -> Self {
                    self.or(lower)
                }
            }
        )*
    };
}

first_set_wins!(bool, usize, f64, String, PathBuf, SocketAddr);

/// Lists: the entries of every layer, higher layers first.
impl<T> Combine for Option<Vec<T>> {
    fn combine(self, lower: Self) -> Self {
        match (self, lower) {
            (Some(mut higher), Some(lower)) => {
                higher.extend(lower);
                Some(higher)
            }
            (higher, lower) => higher.or(lower),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_higher_value_wins_and_lists_add_up() {
        assert_eq!(Some(1usize).combine(Some(2)), Some(1));
        assert_eq!(None.combine(Some(2usize)), Some(2));
        assert_eq!(
            Some(vec!["a"]).combine(Some(vec!["b"])),
            Some(vec!["a", "b"])
        );
        assert_eq!(None.combine(Some(vec!["b"])), Some(vec!["b"]));
    }
}
