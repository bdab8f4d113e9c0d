// workers.cc: placeholder, being written.
