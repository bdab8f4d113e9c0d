// test_base64.cc: placeholder, being written.
int main() { return 77; }
