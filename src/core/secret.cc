// secret.cc: placeholder, being written.
