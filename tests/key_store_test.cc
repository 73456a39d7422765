// Filled in by the security work (issue 6).
