// config.cc: placeholder, being written.
