// protocol.cc: placeholder, being written.
