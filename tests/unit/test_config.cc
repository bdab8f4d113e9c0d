// test_config.cc: placeholder, being written.
int main() { return 77; }
