// crypto.cc: placeholder, being written.
