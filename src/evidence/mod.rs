//! What the journal proves: the sealed part (lines covered by a valid signature from a trusted
//! key), the gate computed over it alone, and `verify`, which checks a run or a bundle with
//! nothing but its files and a trust anchor. Above the journal and the gate, below the reports.

pub mod seal;
pub mod verify;
