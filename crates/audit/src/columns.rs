//! How the crate's value types are written to and read from SQLite columns.

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::approvals::ApprovalStatus;
use crate::record::{Outcome, RecordId, Tool};
use crate::time::Timestamp;

/// A value that SQLite keeps as JSON text.
pub(crate) struct Json<T>(pub T);

impl<T: Serialize> ToSql for Json<T> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        serde_json::to_string(&self.0)
            .map(ToSqlOutput::from)
            .map_err(|error| rusqlite::Error::ToSqlConversionFailure(Box::new(error)))
    }
}

impl<T: DeserializeOwned> FromSql for Json<T> {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        serde_json::from_str(value.as_str()?)
            .map(Json)
            .map_err(|error| FromSqlError::Other(Box::new(error)))
    }
}

impl ToSql for Timestamp {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.to_string()))
    }
}

impl FromSql for Timestamp {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        value
            .as_str()?
            .parse()
            .map_err(|error| FromSqlError::Other(Box::new(error)))
    }
}

impl ToSql for RecordId {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        self.0.to_sql()
    }
}

impl FromSql for RecordId {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        i64::column_result(value).map(RecordId)
    }
}

/// An enum stored as one word from a fixed list.
trait Word: Copy + 'static {
    /// Every value, to look words up.
    const ALL: &'static [Self];
    /// The stored word for this value.
    fn word(self) -> &'static str;
}

fn word_from_sql<T: Word>(value: ValueRef<'_>) -> FromSqlResult<T> {
    let text = value.as_str()?;
    T::ALL
        .iter()
        .copied()
        .find(|candidate| candidate.word() == text)
        .ok_or_else(|| FromSqlError::Other(format!("unknown value {text:?}").into()))
}

/// Implements the column conversions of a [`Word`] type.
macro_rules! word_column {
    ($type:ty) => {
        impl ToSql for $type {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::from(self.word()))
            }
        }

        impl FromSql for $type {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                word_from_sql(value)
            }
        }
    };
}

impl Word for Tool {
    const ALL: &'static [Self] = &[Tool::Search, Tool::Execute];
    fn word(self) -> &'static str {
        match self {
            Tool::Search => "search",
            Tool::Execute => "execute",
        }
    }
}
word_column!(Tool);

impl Word for Outcome {
    const ALL: &'static [Self] = &[Outcome::Ok, Outcome::Error];
    fn word(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
        }
    }
}
word_column!(Outcome);

impl Word for ApprovalStatus {
    const ALL: &'static [Self] = &[
        ApprovalStatus::Pending,
        ApprovalStatus::Approved,
        ApprovalStatus::Rejected,
    ];
    fn word(self) -> &'static str {
        self.as_str()
    }
}
word_column!(ApprovalStatus);
