// log.cc: placeholder, being written.
