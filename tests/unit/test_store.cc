// test_store.cc: placeholder, being written.
int main() { return 77; }
