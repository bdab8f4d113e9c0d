// entra.cc: placeholder, being written.
