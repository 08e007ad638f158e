cmd_test() { die "not yet"; }
