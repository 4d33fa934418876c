//! The configurable numbers every call is held to, and the tools they apply to.

use serde::Deserialize;

/// The tool a call is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tool {
    /// `search`.
    Search,
    /// `execute`.
    Execute,
}

impl Tool {
    /// The tool's name, e.g. `"execute"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Tool::Search => "search",
            Tool::Execute => "execute",
        }
    }
}

/// The limits; each field left out of a config file keeps its default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// `search` calls per session (default 20).
    pub search_per_session: u64,
    /// `execute` calls per session (default 10).
    pub execute_per_session: u64,
    /// `execute` calls per user per UTC day (default 50).
    pub execute_per_subject_per_day: u64,
    /// Calls of either tool running at once per user (default 4).
    pub concurrent_per_subject: u64,
    /// Characters of code per call (default 2,000).
    pub max_code_chars: u64,
    /// Calls per user refused in one hour (by any limit here) before every call is refused
    /// until the hour is over (default 30).
    pub refusals_per_subject_per_hour: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            search_per_session: 20,
            execute_per_session: 10,
            execute_per_subject_per_day: 50,
            concurrent_per_subject: 4,
            max_code_chars: 2_000,
            refusals_per_subject_per_hour: 30,
        }
    }
}

impl Limits {
    /// The calls of `tool` a session may make.
    pub fn per_session(&self, tool: Tool) -> u64 {
        match tool {
            Tool::Search => self.search_per_session,
            Tool::Execute => self.execute_per_session,
        }
    }
}
