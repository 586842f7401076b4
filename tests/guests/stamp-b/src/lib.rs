//! See ../../stamp.rs.

const BUILD: &str = "b";

include!("../../stamp.rs");
