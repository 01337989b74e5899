//! An OpenFlow table's lookup (work in progress).
