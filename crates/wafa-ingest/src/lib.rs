//! Turning outside data into Wafa inputs.
