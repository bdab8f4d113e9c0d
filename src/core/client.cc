// client.cc: placeholder, being written.
