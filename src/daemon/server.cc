// server.cc: placeholder, being written.
