//! Tests of the calendar module: the shipped data against official lists, the rules on
//! synthetic data files, and the terms (examples and properties).

mod official;
mod rules;
mod terms;
