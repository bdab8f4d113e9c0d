// test_crypto.cc: placeholder, being written.
int main() { return 77; }
