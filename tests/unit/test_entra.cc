// test_entra.cc: placeholder, being written.
int main() { return 77; }
