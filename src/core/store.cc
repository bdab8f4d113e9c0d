// store.cc: placeholder, being written.
