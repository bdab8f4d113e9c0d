// assertion.cc: placeholder, being written.
