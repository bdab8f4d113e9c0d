// backoff.cc: placeholder, being written.
