//! Comparing two restored databases: their schemas object by object ([`schema_diff`]) and the
//! rows of their tables, exactly ([`table_data_diff`]).

mod data;
mod schema;

pub use data::*;
pub use schema::*;
