// broker.cc: placeholder, being written.
