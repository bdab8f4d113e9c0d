// test_backoff.cc: placeholder, being written.
int main() { return 77; }
