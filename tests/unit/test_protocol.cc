// test_protocol.cc: placeholder, being written.
int main() { return 77; }
